"""Per-call overhead at 2^10 elements: a fused two-op function through torch.jit.script vs
eager's single torch.add, and the same function unfused in the interpreter. Then an LSTM
cell (two matmuls, the gate sum, chunk(4), the pointwise tail) at batch 2, hidden 4, where
the call path, not the math, is the time: unfused, and fused with the profiler's record of
the fused call (host us per fused call, its kernel included).

    python3 benchmarks/call_overhead.py"""
import os
import statistics
import sys
import time

import torch


def add_relu(x, y):
    return (x + y).relu()


def add_relu_fused(x, y):
    # A separate function: torch.jit.script caches compiled functions per Python function.
    return (x + y).relu()


def lstm_cell(x, hx, cx, w_ih, w_hh, b_ih, b_hh):
    gates = x.mm(w_ih.t()) + hx.mm(w_hh.t()) + b_ih + b_hh
    i, f, c, o = gates.chunk(4, 1)
    cy = torch.sigmoid(f) * cx + torch.sigmoid(i) * torch.tanh(c)
    return torch.sigmoid(o) * torch.tanh(cy), cy


def lstm_cell_fused(x, hx, cx, w_ih, w_hh, b_ih, b_hh):
    gates = x.mm(w_ih.t()) + hx.mm(w_hh.t()) + b_ih + b_hh
    i, f, c, o = gates.chunk(4, 1)
    cy = torch.sigmoid(f) * cx + torch.sigmoid(i) * torch.tanh(c)
    return torch.sigmoid(o) * torch.tanh(cy), cy


def fused_record_us(fn, *args, calls=2000):
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(calls):
            fn(*args)
    events = [e.cpu_time_total for e in prof.events() if e.name.startswith("fused_")]
    return statistics.mean(events) if events else float("nan")


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
        cell_args = [torch.randn(2, 4) for _ in range(3)] + [torch.randn(16, 4), torch.randn(16, 4),
                                                              torch.randn(16), torch.randn(16)]
        cell_unfused = per_call_us(torch.jit.script(lstm_cell), *cell_args)
        os.environ.setdefault("TORCH_FUSER_SYNC_COMPILE", "1")  # time kernels, not compiles
        import torch_fuser  # noqa: F401
        fused_fn = torch.jit.script(add_relu_fused)
        fused = per_call_us(fused_fn, x, y)
        assert "fuser::FusionGroup" in str(torch.jit.last_executed_optimized_graph())
        cell_fn = torch.jit.script(lstm_cell_fused)
        cell_fused = per_call_us(cell_fn, *cell_args)
        assert "fuser::FusionGroup" in str(torch.jit.last_executed_optimized_graph())
        cell_record = fused_record_us(cell_fn, *cell_args)
    print(f"threads {torch.get_num_threads()}, torch {torch.__version__}")
    print(f"eager torch.add:              {eager_add:6.2f} us")
    print(f"scripted add+relu, unfused:   {unfused:6.2f} us")
    print(f"scripted add+relu, fused:     {fused:6.2f} us  ({fused / eager_add:.2f}x one eager add)")
    print(f"scripted LSTM cell, unfused:  {cell_unfused:6.2f} us")
    print(f"scripted LSTM cell, fused:    {cell_fused:6.2f} us  (the fused call's profiler record: "
          f"{cell_record:.2f} us)")


if __name__ == "__main__":
    sys.exit(main())
