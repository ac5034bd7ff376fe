#!/usr/bin/env bash
# What a session runs on the GPU machine (the `device` tool), stage by stage, logs under
# $OUT (default ./gpu-logs):  tools/gpu_checks.sh build tests [package] [bench] [latency] [fuzz N SEED]
# (fuzz: N cases per suite from SEED; FUZZ_SECONDS=S stops each suite after S seconds)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/gpu-logs}
mkdir -p "$OUT"
export TORCH_FUSER_CACHE_DIR=${TORCH_FUSER_CACHE_DIR:-/tmp/torch_fuser_gpu_cache}
while [ $# -gt 0 ]; do
  stage=$1
  shift
  start=$(date +%s)
  case $stage in
    build)
      nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$OUT/machine.txt"
      python3 -c 'import torch; print(torch.__version__, torch.version.cuda)' >> "$OUT/machine.txt"
      # The machine's default g++ (/opt/gcc) links libstdc++ statically: use the system one.
      [ -x /usr/bin/g++ ] && export CXX=/usr/bin/g++
      make build > "$OUT/build.log" 2>&1 || { tail -40 "$OUT/build.log"; exit 1; }
      ;;
    tests)
      ./build/bin/test_jit --gtest_filter='*Fusion*:*Codegen*:*Pass*:-*RandomGraphsMatchEager' \
        > "$OUT/cpp.log" 2>&1
      grep -E "PASSED|FAILED|SKIPPED|special values" "$OUT/cpp.log" | tail -15
      PYTHONPATH=$PWD python3 -m pytest -q test/test_jit_fuser.py > "$OUT/py.log" 2>&1
      tail -15 "$OUT/py.log"
      ;;
    package)
      # The C++ package + LD_PRELOAD test and the wheel test, as `make test` runs them.
      [ -x /usr/bin/g++ ] && export CXX=/usr/bin/g++
      tools/test_package.sh > "$OUT/package.log" 2>&1; echo "test_package rc=$?"
      grep "test-package" "$OUT/package.log" | tail -8
      tools/test_wheel.sh > "$OUT/wheel.log" 2>&1; echo "test_wheel rc=$?"
      grep -E "test-wheel|passed|failed|Error" "$OUT/wheel.log" | tail -8
      ;;
    bench)
      PYTHONPATH=$PWD python3 benchmarks/fallback_overhead.py > "$OUT/fallback_overhead.txt" 2>&1
      cat "$OUT/fallback_overhead.txt"
      PYTHONPATH=$PWD python3 benchmarks/switching.py --device cuda --out "$OUT" \
        --name h200-cuda-switching > "$OUT/switching_cuda.txt" 2>&1
      tail -40 "$OUT/switching_cuda.txt"
      ;;
    latency)
      # Time to first result, cold/warm disk cache, sync/background compilation.
      PYTHONPATH=$PWD python3 benchmarks/first_call.py --device cuda \
        --workloads "${LATENCY_WORKLOADS:-lstm_train,mobilenet_v3_large,mlp_train}" --out "$OUT" \
        --name h200-cuda-first-call > "$OUT/first_call.txt" 2>&1
      grep -v "^#" "$OUT/first_call.txt" | tail -25
      ;;
    fuzz)
      cases=$1 seed=$2
      shift 2
      for suite in GPUFusion CPUFusion; do
        FUSER_FUZZ_CASES=$cases FUSER_FUZZ_SEED=$seed FUSER_FUZZ_THREADS=$(($(nproc) - 1)) \
          FUSER_FUZZ_SECONDS=${FUZZ_SECONDS:-0} \
          ./build/bin/test_jit --gtest_filter="$suite.RandomGraphsMatchEager" \
          > "$OUT/fuzz_${suite}_$seed.log" 2>&1
        echo "$suite seeds $seed..$((seed + cases - 1)): rc=$? $(grep -h '\[fuzz\]' "$OUT/fuzz_${suite}_$seed.log")"
        grep -A3 "replay:" "$OUT/fuzz_${suite}_$seed.log" | head -20
      done
      ;;
    *) echo "unknown stage $stage" >&2; exit 2 ;;
  esac
  echo "[$stage] $(($(date +%s) - start)) s"
done
