#!/usr/bin/env bash
# Installs the Debian packages retrace builds against, when they are missing (apt-get, as root).
set -euo pipefail
PACKAGES=(build-essential cmake pkg-config clang libomp-dev libopenblas-openmp-dev libjansson-dev libcmocka-dev
          libsqlite3-dev libpcre2-dev libutf8proc-dev libdnnl-dev libmicrohttpd-dev python3)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "retrace: missing Debian packages: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "retrace: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
