"""Per-call overhead at 2^10 elements: a fused two-op function through torch.jit.script vs
eager's single torch.add, and the same function unfused in the interpreter.

    python3 benchmarks/call_overhead.py"""
import statistics
import sys
import time

import torch


def add_relu(x, y):
    return (x + y).relu()


def add_relu_fused(x, y):
    # A separate function: torch.jit.script caches compiled functions per Python function.
    return (x + y).relu()


def per_call_us(fn, *args, repeats=7, iters=20000):
    for _ in range(100):
        fn(*args)
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(iters):
            fn(*args)
        samples.append((time.perf_counter() - start) / iters * 1e6)
    return statistics.median(samples)


def main():
    x, y = torch.randn(1024), torch.randn(1024)
    with torch.no_grad():
        eager_add = per_call_us(torch.add, x, y)
        torch._C._jit_set_texpr_fuser_enabled(False)
        unfused = per_call_us(torch.jit.script(add_relu), x, y)
        import torch_fuser  # noqa: F401
        fused_fn = torch.jit.script(add_relu_fused)
        fused = per_call_us(fused_fn, x, y)
        assert "fuser::FusionGroup" in str(torch.jit.last_executed_optimized_graph())
    print(f"threads {torch.get_num_threads()}, torch {torch.__version__}")
    print(f"eager torch.add:              {eager_add:6.2f} us")
    print(f"scripted add+relu, unfused:   {unfused:6.2f} us")
    print(f"scripted add+relu, fused:     {fused:6.2f} us  ({fused / eager_add:.2f}x one eager add)")


if __name__ == "__main__":
    sys.exit(main())
