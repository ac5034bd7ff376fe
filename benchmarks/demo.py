"""`make demo`: fuses two real pointwise blocks and shows what torch_fuser did.

For each block: the optimized TorchScript graph with its fuser::FusionGroup, the
generated kernel, eager vs fused median time, and the max error against eager."""
import os
import statistics
import time

import torch

os.environ.setdefault("TORCH_FUSER_SYNC_COMPILE", "1")  # time kernels, not compiles

import torch_fuser


def lstm_cell_tail(gates, cx):
    ingate, forgetgate, cellgate, outgate = gates.chunk(4, 1)
    i = ingate.sigmoid()
    f = forgetgate.sigmoid()
    g = cellgate.tanh()
    o = outgate.sigmoid()
    cy = f * cx + i * g
    hy = o * cy.tanh()
    return hy, cy


def gelu_mlp_tail(h, bias):
    x = h + bias
    return 0.5 * x * (1.0 + torch.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))


def kernel_body(source):
    """The kernel's own code: from the line that defines tf_compute to the end."""
    start = source.index("tf_compute(")
    return source[source.rindex("\n", 0, start) + 1:]


def median_ms(fn, args, repeats=20):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def max_error(a, b):
    if isinstance(a, tuple):
        return max(max_error(x, y) for x, y in zip(a, b))
    return (a - b).abs().max().item()


def show(name, fn, args):
    print("=" * 78)
    print(f"{name}: inputs {[tuple(a.shape) for a in args]}, {args[0].dtype}, "
          f"{torch.get_num_threads()} thread(s)")
    scripted = torch.jit.script(fn)
    with torch.no_grad():
        for _ in range(3):
            fused_out = scripted(*args)
        print("\n-- optimized graph --")
        print(torch.jit.last_executed_optimized_graph())
        sources = torch_fuser.kernel_source(scripted, *args)
        print("-- generated kernel: tf_compute is the computation, tf_kernel the entry that "
              "unpacks the arguments (the preamble is omitted) --")
        for source in sources:
            print(kernel_body(source))
        eager_ms = median_ms(fn, args)
        fused_ms = median_ms(scripted, args)
    print(f"-- eager {eager_ms:.3f} ms   torch_fuser {fused_ms:.3f} ms   "
          f"speedup {eager_ms / fused_ms:.2f}x   max error {max_error(fused_out, fn(*args)):.3g}")


def main():
    torch.manual_seed(0)
    n, hidden = 256, 1024
    show("LSTM cell pointwise tail (gates.chunk(4, 1))", lstm_cell_tail,
         (torch.randn(n, 4 * hidden), torch.randn(n, hidden)))
    show("GELU MLP tail (bias + tanh-GELU)", gelu_mlp_tail,
         (torch.randn(n, 4 * hidden), torch.randn(4 * hidden)))
    print("=" * 78)
    print("stats:", torch_fuser.stats())


if __name__ == "__main__":
    main()
