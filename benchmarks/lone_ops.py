"""A lone elementwise op: eager vs its own fused kernel (set_min_group_size(1)), at 2^10 to
2^24 elements, in one process — the measurement behind the default minimum group size.

    python3 benchmarks/lone_ops.py [--device cpu|cuda] [--name NAME]   (report under
    benchmarks/reports/NAME-lone-ops.md)"""
import argparse
import os
import statistics
import time

import torch

os.environ.setdefault("TORCH_FUSER_SYNC_COMPILE", "1")  # time kernels, not compiles

import torch_fuser

def lone_tanh(x, y):
    return x.tanh()


def lone_sigmoid(x, y):
    return x.sigmoid()


def lone_exp(x, y):
    return x.exp()


def lone_add(x, y):
    return x + y


OPS = {"tanh": lone_tanh, "sigmoid": lone_sigmoid, "exp": lone_exp, "add": lone_add}


def median_us(fn, args, device, budget_s=0.3):
    for _ in range(3):
        fn(*args)
    samples = []
    deadline = time.perf_counter() + budget_s
    while len(samples) < 5 or (time.perf_counter() < deadline and len(samples) < 200):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn(*args)
        if device == "cuda":
            torch.cuda.synchronize()
        samples.append((time.perf_counter() - start) * 1e6)
    return statistics.median(samples)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--name")
    parser.add_argument("--max-log2", type=int, default=24)
    args = parser.parse_args()
    torch_fuser.set_min_group_size(1)
    rows = []
    with torch.no_grad():
        fused = {name: torch.jit.script(fn) for name, fn in OPS.items()}
        for log2 in range(10, args.max_log2 + 1, 2):
            x = torch.randn(2 ** log2, device=args.device)
            y = torch.randn(2 ** log2, device=args.device)
            for name, op in OPS.items():
                before = torch_fuser.stats()["kernel_launches"]
                eager = median_us(op, (x, y), args.device)
                mine = median_us(fused[name], (x, y), args.device)
                assert torch_fuser.stats()["kernel_launches"] > before, f"{name} ran no kernel"
                torch.testing.assert_close(fused[name](x, y), op(x, y))
                rows.append((log2, name, eager, mine))
    lines = [
        f"# Lone ops: eager vs own fused kernel ({args.device}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads)",
        "",
        "`python3 benchmarks/lone_ops.py --device " + args.device + "`; median µs per call; "
        "ratio < 1: the kernel is faster.",
        "",
        "| elements | op | eager µs | fused µs | fused / eager |",
        "|---|---|---|---|---|",
    ]
    for log2, name, eager, mine in rows:
        lines.append(f"| 2^{log2} | {name} | {eager:.1f} | {mine:.1f} | {mine / eager:.2f} |")
    report = "\n".join(lines) + "\n"
    print(report)
    if args.name:
        out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reports",
                           f"{args.name}-lone-ops.md")
        with open(out, "w") as f:
            f.write(report)


if __name__ == "__main__":
    main()
