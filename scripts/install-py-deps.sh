#!/usr/bin/env bash
# Installs what the reference checks against real models need, when it is missing, and fetches the
# real model: the Python packages torch, transformers, gguf, numpy, tokenizers and
# llama-cpp-python (which compiles llama.cpp), and SmolLM2-135M-Instruct (scripts/get-model.sh).
# Python is never a runtime need of retrace: these are the peers the tests compare with.
#
# `make test` runs this before the tests. It never fails the build: whatever cannot be installed (no
# network, no pip, no compiler for llama.cpp) is reported in one line, and the tests that need it skip
# with a printed reason. Idempotent and quiet: when everything is there it prints nothing and takes
# about a second. RETRACE_NO_PY_DEPS=1 skips it entirely (offline machines).
set -uo pipefail
cd "$(dirname "$0")/.."

[ "${RETRACE_NO_PY_DEPS:-0}" = 1 ] && exit 0
note() { echo "install-py-deps: $*" >&2; }

if ! command -v python3 >/dev/null; then
  note "python3 is missing: the reference checks against real models will skip"
  exit 0
fi

# module to import | pip requirement
PKGS=(
  "numpy|numpy"
  "gguf|gguf"
  "tokenizers|tokenizers"
  "torch|torch"
  "transformers|transformers"
  "llama_cpp|llama-cpp-python"
)

# Found without importing them (importing torch takes seconds), in one interpreter.
absent=$(python3 -c 'import importlib.util, sys
print(" ".join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))' "${PKGS[@]%%|*}" 2>/dev/null)
missing=()
for p in "${PKGS[@]}"; do
  [[ " $absent " == *" ${p%%|*} "* ]] && missing+=("$p")
done

pip_install() { # pip_install ARGS... : quiet, then once more in the user site where the system's
                # Python is marked externally managed (PEP 668), never touching the system's packages.
  local log
  log=$(mktemp)
  if python3 -m pip install --quiet --disable-pip-version-check "$@" >"$log" 2>&1; then rm -f "$log"; return 0; fi
  if grep -q externally-managed "$log"; then
    python3 -m pip install --quiet --disable-pip-version-check --user --break-system-packages "$@" >"$log" 2>&1 &&
      { rm -f "$log"; return 0; }
  fi
  tail -n 3 "$log" | sed 's/^/  /' >&2
  rm -f "$log"
  return 1
}

if [ ${#missing[@]} -gt 0 ]; then
  if ! python3 -m pip --version >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    note "installing python3-pip"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-pip >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-pip >/dev/null 2>&1; }
  fi
  if ! python3 -m pip --version >/dev/null 2>&1; then
    note "pip is missing; not installed: ${missing[*]//|*/}; the checks that need them skip"
  else
    for p in "${missing[@]}"; do
      mod=${p%%|*} req=${p#*|}
      note "installing $req"
      pip_install "$req" || note "could not install $req: the checks that need it skip"
    done
  fi
fi

scripts/get-model.sh smollm2-135m-instruct >/dev/null ||
  note "SmolLM2-135M-Instruct could not be fetched: the tests on it skip"
exit 0
