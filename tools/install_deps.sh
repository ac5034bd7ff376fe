#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need, when they are missing.
# Runs apt-get only as root and only for packages that are not installed yet, so a
# machine that already has everything (or a pip/venv torch) is left untouched.
set -euo pipefail

packages=(cmake ninja-build g++ libgtest-dev pybind11-dev python3-dev python3-pytest python3-matplotlib)
# A Python that already imports torch (a venv or wheel) brings its own libtorch.
if ! tools/find_python.sh >/dev/null 2>&1; then
  packages+=(libtorch-dev python3-torch)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "note: not a Debian system; make sure these are available: ${missing[*]}" >&2
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "note: missing packages (${missing[*]}); run as root or install them yourself" >&2
  exit 0
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
