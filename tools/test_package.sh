#!/usr/bin/env bash
# `make test-package`: what a C++ user does with torch_fuser, from an installed package.
#  1. cmake --install the build into a prefix;
#  2. build examples/cpp out of tree against it (find_package(TorchFuser)), run it on a
#     model saved from Python: results must match eager and fused kernels must run;
#  3. build the same program against libtorch alone and run it under
#     LD_PRELOAD=libtorch_fuser.so TORCH_FUSER_ENABLE=1: it must fuse too.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
work=$PWD/$build/package
py=$(tools/find_python.sh)
torch_prefix=$("$py" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')
rm -rf "$work"
mkdir -p "$work"

cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
for f in include/torch_fuser/interface.h lib/cmake/TorchFuser/TorchFuserConfig.cmake \
  lib/cmake/TorchFuser/TorchFuserConfigVersion.cmake; do
  [ -f "$work/prefix/$f" ] || { echo "test-package: $f not installed" >&2; exit 1; }
done
"$py" examples/cpp/make_model.py "$work/model.pt"

build_app() {  # build_app <dir> <WITH_TORCH_FUSER>
  cmake -S examples/cpp -B "$work/$1" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$work/prefix;$torch_prefix" -DWITH_TORCH_FUSER="$2" > "$work/$1.log"
  cmake --build "$work/$1" >> "$work/$1.log" || { tail -30 "$work/$1.log"; exit 1; }
}
run() {  # run <output file> <command...>: fails with the output shown
  local out=$1
  shift
  "$@" > "$out" 2>&1 || { echo "test-package: '$*' failed:" >&2; cat "$out" >&2; exit 1; }
}
expect() {  # expect <what> <file> <pattern>
  grep -Eq "$3" "$2" || { echo "test-package: $1 (no '$3' in $2):" >&2; cat "$2" >&2; exit 1; }
  echo "test-package: $1: $(grep -Eo "$3" "$2" | head -1)"
}

export TORCH_FUSER_CACHE_DIR=$work/kernel-cache
# The unmodified app's few calls must see their kernel: compile before the call.
export TORCH_FUSER_SYNC_COMPILE=1
build_app linked ON
run "$work/linked.out" "$work/linked/run_model" "$work/model.pt"
expect "linked app matches eager" "$work/linked.out" "results match eager"
expect "linked app runs fused kernels" "$work/linked.out" "fused kernels run: [1-9][0-9]*"

build_app plain OFF
ldd "$work/plain/run_model" > "$work/plain.ldd"
if grep -q torch_fuser "$work/plain.ldd"; then
  echo "test-package: the plain app links torch_fuser" >&2
  exit 1
fi
run "$work/preload.out" env LD_PRELOAD="$work/prefix/lib/libtorch_fuser.so" TORCH_FUSER_ENABLE=1 \
  TORCH_FUSER_STATS_AT_EXIT=1 "$work/plain/run_model" "$work/model.pt"
expect "unmodified app under LD_PRELOAD matches eager" "$work/preload.out" "results match eager"
expect "unmodified app under LD_PRELOAD fuses" "$work/preload.out" "kernel_launches=[1-9][0-9]*"
# Its compilers run without the preload (else each would load libtorch, and the disk
# cache key, made from the compiler's --version output, would change): it reuses the
# kernel the linked app compiled.
expect "LD_PRELOAD stays out of the compiler" "$work/preload.out" "kernels_compiled=0 .*disk_cache_hits=[1-9]"
# Loaded but not enabled: the pass is registered and does nothing.
run "$work/preload-off.out" env LD_PRELOAD="$work/prefix/lib/libtorch_fuser.so" \
  TORCH_FUSER_STATS_AT_EXIT=1 "$work/plain/run_model" "$work/model.pt"
expect "loaded without TORCH_FUSER_ENABLE fuses nothing" "$work/preload-off.out" "kernel_launches=0 "
