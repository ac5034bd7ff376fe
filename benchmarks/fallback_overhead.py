"""What a fallback costs over the interpreter running the same nodes, per call, on tiny
tensors (16 elements, so the ops themselves cost little and the overhead shows):

  interpreter        the function scripted without torch_fuser (all fusers off)
  simple executor    the same, fusion strategy STATIC 0: never profiled or optimized,
                     so no profiling nodes either — the cheapest way to run the nodes
  guard fails        torch_fuser, the group's guard fails and the re-specialization
                     budget is spent (fusion strategy STATIC 1): the executor's fallback
                     function runs the group's ops unfused
  runtime fallback   torch_fuser disabled after the graph was optimized: the group runs
                     its subgraph in the interpreter
  kernel             torch_fuser, guard passes, the fused kernel runs

    python3 benchmarks/fallback_overhead.py"""
import os
import sys

import torch

from call_overhead import per_call_us

SOURCE = '''
import torch
def fn(x, y):
    return torch.sigmoid(x * y + 1.0).tanh() * 0.5 + x.relu()
'''


def fresh_function():
    """A new Python function each time: torch.jit.script caches per function object."""
    namespace = {"__name__": "fallback_overhead_fn"}
    exec(compile(SOURCE, "<fallback_overhead>", "exec"), namespace)
    return namespace["fn"]


def script(fn):
    # torch 2.x needs the source of a scripted function in a file; fall back to a
    # CompilationUnit, which takes the text itself.
    try:
        return torch.jit.script(fn)
    except (OSError, RuntimeError):
        return torch.jit.CompilationUnit(SOURCE.replace("import torch\n", "")).fn


def main():
    x32, y32 = torch.randn(16), torch.randn(16)
    x64, y64 = x32.double(), y32.double()
    results = {}
    with torch.no_grad():
        torch._C._jit_set_texpr_fuser_enabled(False)
        torch._C._jit_override_can_fuse_on_cpu(False)
        results["interpreter"] = per_call_us(script(fresh_function()), x64, y64)
        torch.jit.set_fusion_strategy([("STATIC", 0)])
        results["simple executor"] = per_call_us(script(fresh_function()), x64, y64)

        os.environ.setdefault("TORCH_FUSER_SYNC_COMPILE", "1")  # time kernels, not compiles

        import torch_fuser
        torch.jit.set_fusion_strategy([("STATIC", 1)])
        guarded = script(fresh_function())
        for _ in range(3):
            guarded(x32, y32)  # profiled and optimized for float32
        fallbacks = torch_fuser.stats()["fallbacks"]
        results["guard fails"] = per_call_us(guarded, x64, y64)
        assert torch_fuser.stats()["fallbacks"] == fallbacks, "the executor's path, not ours"

        torch.jit.set_fusion_strategy([("STATIC", 2), ("DYNAMIC", 10)])
        fused = script(fresh_function())
        results["kernel"] = per_call_us(fused, x64, y64)
        torch_fuser.disable()
        results["runtime fallback"] = per_call_us(fused, x64, y64)
        torch_fuser.enable()

    base = results["simple executor"]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, 16 float64 elements")
    for name in ("interpreter", "simple executor", "guard fails", "runtime fallback", "kernel"):
        print(f"{name:17s} {results[name]:7.2f} us  ({results[name] - base:+.2f} us)")


if __name__ == "__main__":
    sys.exit(main())
