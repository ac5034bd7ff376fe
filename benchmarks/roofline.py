"""CPU roofline of the benchmark cases: each fused kernel against the memory ceiling and the
compute ceiling of the machine, plus the speed and accuracy of the vector math it uses.

    python3 benchmarks/roofline.py [--log2 20] [--threads N] [--cases chain,...] [--out DIR]

Per case (float32, --log2 elements per full-size tensor, --threads threads):
  fused us        torch_fuser's call, median of samples (what run.py measures)
  copy floor us   dst.copy_(src) moving the case's bytes (half read, half written), preallocated:
                  the memory ceiling
  compute us      the compute ceiling: the case's math on data in cache (2^14 elements, one
                  thread), the faster of eager's op-by-op kernels and the fused kernel, scaled
                  to --threads cores working in parallel
  x copy          fused / copy floor (the issue's target: <= 3)
  % compute       compute ceiling / fused: the share of the compute ceiling reached (>= 70%
                  where compute is the binding ceiling)
  scaling         fused time on one thread / (threads x fused time): parallel efficiency
Per op (one op followed by `* 1.0` so that it fuses; one thread, in cache): ns per element of
eager's kernel and of the fused one, and the largest error of each in float32 ulps against the
float64 result, over values spread across each op's interesting range.

Writes JSON and a markdown table under --out (the table is also printed)."""
import argparse
import datetime
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
os.environ.setdefault("TORCH_FUSER_SYNC_COMPILE", "1")

import torch  # noqa: E402

import torch_fuser  # noqa: E402,F401  (enables fusion)
from cases import CASES, bytes_moved, make_inputs  # noqa: E402

CACHE_LOG2 = 14

# Ops of the vector math: name -> (the function of x, spelled as in scripted code; input
# range). Each is followed by `* 1.0` in the fused version so that the fuser has two nodes.
OPS = {
    "exp": ("torch.exp", (-80.0, 80.0)),
    "log": ("torch.log", (1e-30, 1e30)),
    "sigmoid": ("torch.sigmoid", (-30.0, 30.0)),
    "silu": ("torch.nn.functional.silu", (-30.0, 30.0)),
    "tanh": ("torch.tanh", (-10.0, 10.0)),
    "erf": ("torch.erf", (-5.0, 5.0)),
    "sin": ("torch.sin", (-100.0, 100.0)),
    "expm1": ("torch.expm1", (-20.0, 20.0)),
    "exp2": ("torch.exp2", (-140.0, 130.0)),
    "log2": ("torch.log2", (1e-40, 1e38)),
    "sinh": ("torch.sinh", (-90.0, 90.0)),
    "cosh": ("torch.cosh", (-90.0, 90.0)),
    "log1p": ("torch.log1p", (-0.99, 1e6)),
    "gelu": ("torch.nn.functional.gelu", (-5.0, 5.0)),
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--log2", type=int, default=20)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--cases", default=",".join(c for c in CASES if c != "dropout"))
    p.add_argument("--ops", default=",".join(OPS))
    p.add_argument("--target-ms", type=float, default=200.0, help="time per sample")
    p.add_argument("--out", default=os.path.join(HERE, "results"))
    return p.parse_args(argv)


def measure(call, target_ms):
    """Median microseconds per call over 7 samples of about target_ms each."""
    for _ in range(3):
        call()
    begin = time.perf_counter()
    call()
    one = max(time.perf_counter() - begin, 1e-7)
    iters = int(min(max(target_ms * 1e-3 / one, 1), 20000))
    samples = []
    for _ in range(7):
        begin = time.perf_counter()
        for _ in range(iters):
            call()
        samples.append((time.perf_counter() - begin) / iters)
    return statistics.median(samples) * 1e6


def numel_of(inputs):
    return max(t.numel() for t in inputs if isinstance(t, torch.Tensor))


def output_numel(out):
    outs = out if isinstance(out, tuple) else (out,)
    return max(o.numel() for o in outs)


def case_record(name, args):
    fn = torch.jit.script(CASES[name])
    torch.manual_seed(0)
    inputs = make_inputs(name, 2 ** args.log2, torch.float32, "cpu")
    small = make_inputs(name, 2 ** CACHE_LOG2, torch.float32, "cpu")
    record = {"case": name, "log2": args.log2, "threads": args.threads}
    with torch.no_grad():
        expected = CASES[name](*inputs)
        for _ in range(5):
            out = fn(*inputs)
            fn(*small)
        outs, wants = (out, expected) if isinstance(out, tuple) else ((out,), (expected,))
        record["max_abs_diff"] = max((o - w).abs().max().item() for o, w in zip(outs, wants))
        moved = bytes_moved(inputs, expected)
        record["bytes"] = moved
        elements = output_numel(expected)
        small_elements = output_numel(CASES[name](*small))

        torch.set_num_threads(args.threads)
        record["fused_us"] = measure(lambda: fn(*inputs), args.target_ms)
        src = torch.empty(moved // 2, dtype=torch.uint8)
        dst = torch.empty_like(src)
        record["copy_us"] = measure(lambda: dst.copy_(src), args.target_ms)
        torch.set_num_threads(1)
        record["fused_1thread_us"] = measure(lambda: fn(*inputs), args.target_ms)
        fused_cache = measure(lambda: fn(*small), args.target_ms) / small_elements
        eager_cache = measure(lambda: CASES[name](*small), args.target_ms) / small_elements
        torch.set_num_threads(args.threads)
    record["fused_cache_ns_per_element"] = fused_cache * 1e3
    record["eager_cache_ns_per_element"] = eager_cache * 1e3
    record["compute_us"] = min(fused_cache, eager_cache) * elements / args.threads
    return record


def ulps(got, want64):
    """Float32 ulps between got and the float64 value want64, per element."""
    rounded = want64.float()
    spacing = (torch.nextafter(rounded.abs(), torch.tensor(float("inf"))) - rounded.abs()).double()
    spacing = torch.where(spacing > 0, spacing, torch.full_like(spacing, 2.0 ** -149))
    err = (got.double() - want64).abs() / spacing
    same_special = (got.isnan() & rounded.isnan()) | (got.isinf() & (got == rounded))
    return torch.where(same_special, torch.zeros_like(err), err)


def op_record(name, args):
    op, (lo, hi) = _eager_op(name), OPS[name][1]
    fused = torch.jit.script(_fused_op(name))
    torch.manual_seed(0)
    n = 1 << 20
    if lo > 0:  # log-spaced over positive ranges
        x = torch.exp(torch.empty(n, dtype=torch.float64).uniform_(torch.log(torch.tensor(lo)).item(),
                                                                    torch.log(torch.tensor(hi)).item())).float()
    else:
        x = torch.empty(n).uniform_(lo, hi)
    small = x[: 1 << CACHE_LOG2].clone()
    out = torch.empty_like(small)
    with torch.no_grad():
        want = op(x.double())
        for _ in range(5):
            got = fused(x)
            fused(small)
        record = {"op": name, "range": [lo, hi],
                  "eager_max_ulp": ulps(op(x), want).max().item(),
                  "fused_max_ulp": ulps(got, want).max().item()}
        torch.set_num_threads(1)
        try:
            eager = lambda: op(small, out=out)  # noqa: E731
            eager()
        except TypeError:
            eager = lambda: op(small)  # noqa: E731
        record["eager_ns_per_element"] = measure(eager, args.target_ms) / small.numel() * 1e3
        record["fused_ns_per_element"] = measure(lambda: fused(small), args.target_ms) / small.numel() * 1e3
        torch.set_num_threads(args.threads)
    return record


def _eager_op(name):
    op = torch
    for part in OPS[name][0].split(".")[1:]:
        op = getattr(op, part)
    return op


def _fused_op(name):
    # Script functions need a real source.
    return torch.jit.CompilationUnit(f"def f(x):\n    return {OPS[name][0]}(x) * 1.0\n").f


def case_table(records):
    head = ("| case | 2^n | threads | fused us | copy floor us | compute ceiling us | binding | "
            "x copy | % compute | scaling (1 thread us) | in cache ns/elem fused / eager | "
            "max abs diff |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in records:
        binding = "compute" if r["compute_us"] > r["copy_us"] else "memory"
        scaling = r["fused_1thread_us"] / (r["threads"] * r["fused_us"])
        lines.append(
            f"| {r['case']} | {r['log2']} | {r['threads']} | {r['fused_us']:.1f} | {r['copy_us']:.1f} | "
            f"{r['compute_us']:.1f} | {binding} | {r['fused_us'] / r['copy_us']:.2f} | "
            f"{100 * r['compute_us'] / r['fused_us']:.0f}% | {100 * scaling:.0f}% "
            f"({r['fused_1thread_us']:.0f}) | {r['fused_cache_ns_per_element']:.3f} / "
            f"{r['eager_cache_ns_per_element']:.3f} | {r['max_abs_diff']:.1e} |")
    return "\n".join(lines)


def op_table(records):
    head = "| op | range | ns/elem eager | ns/elem fused | eager/fused | max ulp eager | max ulp fused |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in records:
        lines.append(
            f"| {r['op']} | {r['range'][0]:g}..{r['range'][1]:g} | {r['eager_ns_per_element']:.3f} | "
            f"{r['fused_ns_per_element']:.3f} | "
            f"{r['eager_ns_per_element'] / r['fused_ns_per_element']:.2f} | "
            f"{r['eager_max_ulp']:.2f} | {r['fused_max_ulp']:.2f} |")
    return "\n".join(lines)


def main():
    args = parse_args()
    cases = [case_record(c, args) for c in args.cases.split(",") if c]
    ops = [op_record(o, args) for o in args.ops.split(",") if o]
    stamp = datetime.date.today().isoformat()
    info = (f"cpu, torch {torch.__version__}, {args.threads} thread(s) "
            f"({os.cpu_count()} CPUs seen), {stamp}")
    text = "\n\n".join([case_table(cases), op_table(ops), info])
    print(text)
    os.makedirs(args.out, exist_ok=True)
    base = os.path.join(args.out, f"roofline-{stamp}")
    with open(base + ".json", "w") as f:
        json.dump({"info": info, "cases": cases, "ops": ops}, f, indent=1)
    with open(base + ".md", "w") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
