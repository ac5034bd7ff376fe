#!/usr/bin/env bash
# Installs what the build and the tests need, when it is missing: checks capabilities
# (a compiler, cmake, ninja, GoogleTest, a Python with torch and its headers, pytest,
# matplotlib) and maps each missing one to its Debian package. Runs apt-get only as
# root and only when something is missing, so a machine that already has everything (a
# venv or wheel torch, a prepared image) is left untouched.
#   tools/install_deps.sh           what `make` and `make test` need
#   tools/install_deps.sh --bench   also what the benchmarks need (torchvision's models)
set -euo pipefail
bench=0
[ "${1:-}" = "--bench" ] && bench=1
cd "$(dirname "$0")/.."

missing=()
need() {  # need <debian-package> <check command...>
  local package=$1
  shift
  "$@" >/dev/null 2>&1 || missing+=("$package")
}

need cmake command -v cmake
need ninja-build command -v ninja
need g++ command -v c++
need libgtest-dev test -e /usr/include/gtest/gtest.h
if py=$(tools/find_python.sh 2>/dev/null); then
  need python3-dev test -e "$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')/Python.h"
  need python3-pytest "$py" -c 'import pytest'
  need python3-matplotlib "$py" -c 'import matplotlib'
  # make test-wheel: a venv with pip, and setuptools' bdist_wheel
  need python3-venv "$py" -c 'import ensurepip, venv'
  need python3-wheel "$py" -c 'import wheel'
  need python3-setuptools "$py" -c 'import setuptools'
  # benchmarks/workloads.py: the torchvision models (only for the benchmarks)
  [ $bench -eq 1 ] && need python3-torchvision "$py" -c 'import torchvision'
else
  missing+=(libtorch-dev python3-torch python3-dev python3-pytest python3-matplotlib pybind11-dev
            python3-venv python3-wheel python3-setuptools)
fi

[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" -ne 0 ]; then
  echo "warning: missing: ${missing[*]} (install them, or run 'make' as root on Debian)" >&2
  exit 0
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
