"""torch_fuser benchmark suite: every mode side by side, each mode in a fresh process.

    python3 benchmarks/run.py [--device cpu|cuda] [--sizes 16,20,24] [--dtypes float32]
                              [--cases chain,...] [--modes eager,...] [--out DIR]

Modes: eager; nnc (torch.jit.script, PyTorch's default fuser); legacy (PyTorch's legacy
fuser); inductor (torch.compile); torch_fuser; and two floors with the same bytes moved:
copy (dst.copy_(src), preallocated) and clone (src.clone(), a fresh output). Writes JSON
and a PNG under --out and prints a summary table with speedups and ratios to the floors.
"""
import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

FLOORS = ("copy", "clone")
PEERS = ("eager", "nnc", "legacy", "inductor")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu")
    p.add_argument("--sizes", default=None, help="log2 element counts, e.g. 16,20,24")
    p.add_argument("--dtypes", default=None)
    p.add_argument("--cases", default=None)
    p.add_argument("--modes", default=None)
    p.add_argument("--target-ms", type=float, default=None, help="time per sample")
    p.add_argument("--out", default=os.path.join(HERE, "results"))
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--mode", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def defaults(args):
    gpu = args.device.startswith("cuda")
    args.sizes = [int(s) for s in (args.sizes or ("16,20,24,26" if gpu else "16,20,24")).split(",")]
    args.dtypes = (args.dtypes or ("float32,bfloat16" if gpu else "float32")).split(",")
    from cases import CASES
    args.cases = (args.cases or ",".join(CASES)).split(",")
    args.modes = (args.modes or "eager,nnc,legacy,inductor,torch_fuser,copy,clone").split(",")
    args.target_ms = args.target_ms or (20.0 if gpu else 200.0)
    return args


# ----------------------------------------------------------------------------- worker


def setup_mode(mode, device):
    """Switches PyTorch into `mode`; returns a function wrapping a case, or None if the mode
    is unavailable here (with the reason printed)."""
    import torch
    if mode == "eager" or mode in FLOORS:
        return lambda fn: fn
    if mode == "inductor":
        if not hasattr(torch, "compile"):
            return None
        return lambda fn: torch.compile(fn, dynamic=False)
    if mode == "nnc":
        if device == "cpu" and not torch._C._llvm_enabled():
            print("# nnc: this torch has no LLVM, NNC cannot fuse on CPU", file=sys.stderr)
            return None
        torch._C._jit_set_profiling_executor(True)
        torch._C._jit_set_texpr_fuser_enabled(True)
        torch._C._jit_override_can_fuse_on_cpu(True)
        torch._C._jit_override_can_fuse_on_gpu(True)
        return torch.jit.script
    if mode == "legacy":
        torch._C._jit_set_profiling_executor(False)
        torch._C._jit_set_texpr_fuser_enabled(False)
        torch._C._jit_override_can_fuse_on_cpu(True)
        if hasattr(torch._C, "_jit_override_can_fuse_on_cpu_legacy"):
            torch._C._jit_override_can_fuse_on_cpu_legacy(True)
        torch._C._jit_override_can_fuse_on_gpu(True)
        return torch.jit.script
    if mode == "torch_fuser":
        import torch_fuser  # noqa: F401  (enables fusion)
        return torch.jit.script
    raise ValueError(mode)


def timer(device, target_ms):
    import torch
    gpu = device.startswith("cuda")

    def measure(call):
        def run(iters):
            if gpu:
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                for _ in range(iters):
                    call()
                end.record()
                end.synchronize()
                return start.elapsed_time(end) / iters
            begin = time.perf_counter()
            for _ in range(iters):
                call()
            return (time.perf_counter() - begin) * 1e3 / iters

        one = max(run(1), 1e-4)
        iters = int(min(max(target_ms / one, 1), 5000))
        return statistics.median(run(iters) for _ in range(7)) * 1e3  # microseconds
    return measure


def worker(args):
    import torch
    from cases import CASES, bytes_moved, make_inputs

    wrap = setup_mode(args.mode, args.device)
    if wrap is None:
        return
    measure = timer(args.device, args.target_ms)
    for dtype_name in args.dtypes:
        dtype = getattr(torch, dtype_name)
        for name in args.cases:
            fn = wrap(CASES[name])
            for log2 in args.sizes:
                torch.manual_seed(0)
                inputs = make_inputs(name, 2 ** log2, dtype, args.device)
                with torch.no_grad():
                    expected = CASES[name](*inputs)
                    moved = bytes_moved(inputs, expected)
                    record = {"mode": args.mode, "case": name, "log2": log2, "dtype": dtype_name,
                              "bytes": moved, "threads": torch.get_num_threads()}
                    try:
                        if args.mode in FLOORS:
                            src = torch.empty(moved // 2, dtype=torch.uint8, device=args.device)
                            dst = torch.empty_like(src)
                            call = (lambda: dst.copy_(src)) if args.mode == "copy" else src.clone
                        else:
                            call = lambda: fn(*inputs)  # noqa: E731
                            for _ in range(5):
                                out = call()
                            record["max_error"] = max_error(out, expected)
                        record["us"] = measure(call)
                        record["gbps"] = moved / (record["us"] * 1e-6) / 1e9
                    except Exception as e:  # a peer that cannot run a case is reported, not fatal
                        record["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
                print(json.dumps(record), flush=True)


def max_error(out, expected):
    if isinstance(out, tuple):
        return max(max_error(o, e) for o, e in zip(out, expected))
    return (out.double() - expected.double()).abs().max().item() if out.numel() else 0.0


# ----------------------------------------------------------------------------- driver


def run_modes(args):
    records = []
    for mode in args.modes:
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--mode", mode,
               "--device", args.device, "--sizes", ",".join(map(str, args.sizes)),
               "--dtypes", ",".join(args.dtypes), "--cases", ",".join(args.cases),
               "--target-ms", str(args.target_ms)]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [os.path.dirname(HERE), os.environ.get("PYTHONPATH", "")]))
        # Steady-state timings: kernels compile before the call that needs them (first_call.py
        # measures background compilation).
        env.setdefault("TORCH_FUSER_SYNC_COMPILE", "1")
        print(f"# running mode {mode} ...", file=sys.stderr, flush=True)
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        for line in proc.stdout.splitlines():
            if line.startswith("{"):
                records.append(json.loads(line))
        if proc.returncode != 0:
            print(f"# mode {mode} exited with {proc.returncode}:\n{proc.stderr[-2000:]}", file=sys.stderr)
    return records


def summarize(records, args):
    by = {(r["mode"], r["case"], r["log2"], r["dtype"]): r for r in records}
    modes = [m for m in args.modes if any(r["mode"] == m for r in records)]
    lines = []
    peer_modes = [m for m in PEERS if m in modes]
    header = "| case | n | dtype | " + " | ".join(f"{m} us" for m in modes) + \
             "".join(f" | fuser vs {m}" for m in peer_modes) + \
             " | fuser vs best peer | fuser GB/s | % of copy | fuser/clone time |"
    lines.append(header)
    lines.append("|" + "---|" * (header.count("|") - 1))
    for dtype in args.dtypes:
        for case in args.cases:
            for log2 in args.sizes:
                row = [case, f"2^{log2}", dtype]
                times = {}
                for m in modes:
                    r = by.get((m, case, log2, dtype), {})
                    if "us" in r:
                        times[m] = r["us"]
                        row.append(f"{r['us']:.1f}")
                    else:
                        row.append("n/a")
                fuser = times.get("torch_fuser")
                peers = [times[m] for m in PEERS if m in times]
                fr = by.get(("torch_fuser", case, log2, dtype), {})
                for m in peer_modes:  # speedup over each peer
                    row.append(f"{times[m] / fuser:.2f}x" if fuser and m in times else "n/a")
                row.append(f"{min(peers) / fuser:.2f}x" if fuser and peers else "n/a")
                row.append(f"{fr['gbps']:.0f}" if "gbps" in fr else "n/a")
                copy = by.get(("copy", case, log2, dtype), {})
                row.append(f"{100 * fr['gbps'] / copy['gbps']:.0f}%" if "gbps" in fr and "gbps" in copy else "n/a")
                row.append(f"{fuser / times['clone']:.2f}" if fuser and "clone" in times else "n/a")
                lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def plot(records, args, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("# matplotlib missing: no chart", file=sys.stderr)
        return
    modes = [m for m in args.modes if any(r["mode"] == m and "gbps" in r for r in records)]
    panels = [(d, s) for d in args.dtypes for s in args.sizes]
    fig, axes = plt.subplots(len(panels), 1, figsize=(12, 3.2 * len(panels)), squeeze=False)
    width = 0.8 / max(len(modes), 1)
    for ax, (dtype, log2) in zip(axes[:, 0], panels):
        for i, mode in enumerate(modes):
            values = [next((r.get("gbps", 0) for r in records if r["mode"] == mode and r["case"] == c
                            and r["log2"] == log2 and r["dtype"] == dtype), 0) for c in args.cases]
            ax.bar([x + i * width for x in range(len(args.cases))], values, width, label=mode)
        ax.set_xticks([x + 0.4 - width / 2 for x in range(len(args.cases))])
        ax.set_xticklabels(args.cases)
        ax.set_ylabel("GB/s")
        ax.set_title(f"{args.device}, {dtype}, 2^{log2} elements")
    axes[0, 0].legend(ncol=len(modes), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def main():
    args = defaults(parse_args())
    if args.worker:
        worker(args)
        return
    records = run_modes(args)
    os.makedirs(args.out, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = os.path.join(args.out, f"{args.device.replace(':', '')}-{stamp}")
    with open(base + ".json", "w") as f:
        json.dump({"device": args.device, "args": {k: v for k, v in vars(args).items()}, "records": records}, f, indent=1)
    table = summarize(records, args)
    with open(base + ".md", "w") as f:
        f.write(table + "\n")
    plot(records, args, base + ".png")
    print(table)
    errors = [r for r in records if "error" in r]
    for r in errors:
        print(f"# {r['mode']} {r['case']} 2^{r['log2']} {r['dtype']}: {r['error']}", file=sys.stderr)
    print(f"# wrote {base}.json/.md/.png", file=sys.stderr)


if __name__ == "__main__":
    main()
