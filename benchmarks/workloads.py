"""Whole workloads, every mode side by side: is torch_fuser ever slower than eager or the
fusers PyTorch ships on real code? Each (mode, workload) runs in a fresh process.

    python3 benchmarks/workloads.py [--device cpu|cuda] [--workloads lstm_infer,...]
                                    [--modes eager,nnc,...] [--repeats 5] [--out DIR]
                                    [--name NAME] [--profile]

Modes: eager; nnc (TE fuser, profiling executor; skipped on CPU without LLVM); legacy
(legacy fuser, profiling executor off); inductor (torch.compile, where this torch has it; a
workload whose first call takes over --inductor-limit s is reported as such); torch_fuser
(import torch_fuser, profiling executor).

Workloads (CUDA sizes; CPU ones are smaller, see WORKLOADS):
  lstm_infer / lstm_train      fastrnns-style LSTM looping over seq in TorchScript
                               (seq 100, batch 64, hidden 512); train = forward + backward
  lstm_infer_bf16 / _train_bf16  the same in bfloat16 (CUDA only)
  milstm_infer / milstm_train  multiplicative-integration LSTM loop (PyTorch's fuser tests)
  lstm_infer_tiny / lstm_train_tiny  the LSTM loop at seq 50, batch 2, hidden 4: the
                               interpreter and call path are the time, not the math
  mobilenet_v3_large, efficientnet_b0, resnet50   torchvision models, frozen
                               (torch.jit.freeze), inference; _f16 and _cl (channels_last)
                               variants on CUDA; skipped without torchvision
  transformer                  nn.TransformerEncoderLayer(512, 8, gelu), scripted, inference
  mlp_train                    MLP with bias + GELU + dropout + residual, a training step

Per workload and mode: time to first result (a fresh process: profiling, compiles), the
median of --repeats samples of steady calls, and the largest difference from eager on the
same inputs (dropout workloads: shapes and finiteness only). torch_fuser rows also give its
kernel launches, CUDA graph replays (captured_graph.h; a replay's kernels are not counted as
launches) and fallbacks per call. --profile adds, from torch.profiler, host us per
fused call (records named fused_*: torch_fuser's and NNC's fusion groups).
Writes JSON, a PNG and a markdown table under --out and prints the table.
"""
import argparse
import datetime
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

MODES = ("eager", "nnc", "legacy", "inductor", "torch_fuser")
PEERS = ("eager", "nnc", "legacy", "inductor")
# name: (CUDA only, needs torchvision)
WORKLOADS = {
    "lstm_infer": (False, False), "lstm_train": (False, False),
    "lstm_infer_bf16": (True, False), "lstm_train_bf16": (True, False),
    "milstm_infer": (False, False), "milstm_train": (False, False),
    "lstm_infer_tiny": (False, False), "lstm_train_tiny": (False, False),
    "mobilenet_v3_large": (False, True), "mobilenet_v3_large_f16": (True, True),
    "mobilenet_v3_large_cl": (True, True), "efficientnet_b0": (False, True),
    "efficientnet_b0_f16": (True, True), "resnet50": (False, True), "resnet50_f16": (True, True),
    "resnet50_cl": (True, True), "transformer": (False, False), "mlp_train": (False, False),
}
WARMUP = 5  # calls after the first (profiling executor: profile, optimize, then run fused)

# Scripted code lives in a real file (torch.jit.script needs the source; torch 2.x reads it
# from the file), imported afresh by each worker.
SOURCE = '''
from typing import List, Tuple

import torch
import torch.nn.functional as F


def lstm(input, hx, cx, w_ih, w_hh, b_ih, b_hh):
    # type: (Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor) -> Tuple[Tensor, Tensor, Tensor]
    outputs: List[torch.Tensor] = []
    for i in range(input.size(0)):
        gates = input[i].mm(w_ih.t()) + hx.mm(w_hh.t()) + b_ih + b_hh
        ingate, forgetgate, cellgate, outgate = gates.chunk(4, 1)
        ingate = torch.sigmoid(ingate)
        forgetgate = torch.sigmoid(forgetgate)
        cellgate = torch.tanh(cellgate)
        outgate = torch.sigmoid(outgate)
        cx = (forgetgate * cx) + (ingate * cellgate)
        hx = outgate * torch.tanh(cx)
        outputs.append(hx)
    return torch.stack(outputs), hx, cx


def milstm(input, hx, cx, w_ih, w_hh, alpha, beta_i, beta_h, bias):
    # type: (Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor) -> Tuple[Tensor, Tensor, Tensor]
    outputs: List[torch.Tensor] = []
    for i in range(input.size(0)):
        Wx = input[i].mm(w_ih.t())
        Uz = hx.mm(w_hh.t())
        gates = alpha * Wx * Uz + beta_i * Wx + beta_h * Uz + bias
        ingate, forgetgate, cellgate, outgate = gates.chunk(4, 1)
        ingate = ingate.sigmoid()
        forgetgate = forgetgate.sigmoid()
        cellgate = cellgate.tanh()
        outgate = outgate.sigmoid()
        cx = forgetgate * cx + ingate * cellgate
        hx = outgate * cx.tanh()
        outputs.append(hx)
    return torch.stack(outputs), hx, cx


class MLP(torch.nn.Module):
    def __init__(self, width: int, depth: int):
        super().__init__()
        self.layers = torch.nn.ModuleList([torch.nn.Linear(width, width) for _ in range(depth)])

    def forward(self, x):
        for layer in self.layers:
            x = x + F.dropout(F.gelu(layer(x)), p=0.1, training=self.training)
        return x
'''


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu")
    p.add_argument("--workloads", default=None, help="comma-separated, default all (for the device)")
    p.add_argument("--modes", default=None, help="comma-separated, default " + ",".join(MODES))
    p.add_argument("--repeats", type=int, default=5, help="samples (median reported)")
    p.add_argument("--target-ms", type=float, default=None, help="time per sample (300 CPU, 100 CUDA)")
    p.add_argument("--inductor-limit", type=float, default=120.0, help="seconds for inductor's first call")
    p.add_argument("--profile", action="store_true", help="host us per fused call (torch.profiler)")
    p.add_argument("--out", default=os.path.join(HERE, "results"))
    p.add_argument("--name", default=None, help="file name prefix (default DEVICE-workloads-TIMESTAMP)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--mode", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def defaults(args):
    gpu = args.device.startswith("cuda")
    names = args.workloads.split(",") if args.workloads else [w for w, (cuda, _) in WORKLOADS.items()
                                                              if gpu or not cuda]
    for w in names:
        if w not in WORKLOADS:
            raise SystemExit(f"unknown workload {w!r}; workloads: {', '.join(WORKLOADS)}")
    args.workloads = names
    args.modes = (args.modes or ",".join(MODES)).split(",")
    for m in args.modes:
        if m not in MODES:
            raise SystemExit(f"unknown mode {m!r}; modes: {', '.join(MODES)}")
    args.target_ms = args.target_ms or (100.0 if gpu else 300.0)
    return args


# ----------------------------------------------------------------------------- worker


def load_source(tmpdir, tag):
    from switching import load_functions
    return load_functions(tmpdir, tag, SOURCE, "workload_fns")


class Workload:
    """fn(*args) is what a mode runs (wrapped), ref(*args) eager; params get gradients when
    train; exact: compare values with eager (False for dropout: shapes and finiteness)."""

    def __init__(self, fn, ref, args, params=(), train=False, exact=True, tol=1e-3):
        self.fn, self.ref, self.args, self.params = fn, ref, args, list(params)
        self.train, self.exact, self.tol = train, exact, tol


def make_workload(name, device, mod, ref_mod):
    import torch
    gpu = device.startswith("cuda")
    torch.manual_seed(0)
    base = name.replace("_bf16", "").replace("_f16", "").replace("_cl", "").replace("_tiny", "")
    dtype = torch.bfloat16 if name.endswith("_bf16") else torch.float16 if name.endswith("_f16") \
        else torch.float32
    tol = {torch.float32: 2e-3, torch.bfloat16: 6e-2, torch.float16: 2e-2}[dtype]

    if base in ("lstm_infer", "lstm_train", "milstm_infer", "milstm_train"):
        seq, batch, hidden = (100, 64, 512) if gpu else (50, 16, 256)
        if name.endswith("_tiny"):
            seq, batch, hidden = 50, 2, 4
        train = base.endswith("train")

        def param(*shape, s=1.0):
            return (torch.randn(*shape, device=device) * s).to(dtype).requires_grad_(train)
        x = torch.randn(seq, batch, hidden, device=device).to(dtype)
        hx, cx = (torch.randn(batch, hidden, device=device).to(dtype) for _ in range(2))
        w_ih, w_hh = param(4 * hidden, hidden, s=hidden ** -0.5), param(4 * hidden, hidden, s=hidden ** -0.5)
        if base.startswith("lstm"):
            params = [w_ih, w_hh, param(4 * hidden, s=0.1), param(4 * hidden, s=0.1)]
            return Workload(mod.lstm, ref_mod.lstm, (x, hx, cx, *params), params, train, tol=tol)
        params = [w_ih, w_hh] + [param(4 * hidden, s=0.1) for _ in range(4)]
        return Workload(mod.milstm, ref_mod.milstm, (x, hx, cx, *params), params, train, tol=tol)

    if base in ("mobilenet_v3_large", "efficientnet_b0", "resnet50"):
        import torchvision
        batch = 32 if gpu else 4
        model = getattr(torchvision.models, base)().eval().to(device, dtype)
        fmt = torch.channels_last if name.endswith("_cl") else torch.contiguous_format
        model = model.to(memory_format=fmt)
        x = torch.randn(batch, 3, 224, 224, device=device).to(dtype).contiguous(memory_format=fmt)
        return Workload(model, model, (x,), tol=tol * 10)

    if base == "transformer":
        layer = torch.nn.TransformerEncoderLayer(512, 8, 2048, dropout=0.0, activation="gelu",
                                                 batch_first=True).eval().to(device)
        x = torch.randn(32 if gpu else 4, 128, 512, device=device)
        return Workload(layer, layer, (x,), tol=tol * 5)

    if base == "mlp_train":
        width, depth = (2048, 6) if gpu else (512, 4)
        model = mod.MLP(width, depth).to(device).train()
        x = torch.randn(256 if gpu else 64, width, device=device)
        return Workload(model, model, (x,), list(model.parameters()), train=True, exact=False)
    raise ValueError(name)


def wrap_for(mode, device, limit):
    """Switches PyTorch into `mode`; returns a function wrapping a model or function, or a
    string saying why the mode is unavailable."""
    import torch
    from run import setup_mode
    if mode == "torch_fuser":
        import torch_fuser  # noqa: F401  (enables fusion)
        torch._C._jit_set_profiling_executor(True)
        return torch.jit.script
    wrap = setup_mode(mode, device)
    if wrap is None:
        return f"{mode} is unavailable with this torch on {device}"
    return wrap


def outputs(out):
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in outputs(o)]
    return [out]


def compare(torch, got, want, exact):
    got, want = outputs(got), outputs(want)
    if len(got) != len(want) or any(g.shape != w.shape for g, w in zip(got, want)):
        return float("inf")
    if not exact:
        return 0.0 if all(torch.isfinite(g).all() for g in got) else float("inf")
    scale = max([1.0] + [w.detach().float().abs().max().item() for w in want])
    return max((g.detach().float() - w.detach().float()).abs().max().item() / scale
               for g, w in zip(got, want))


def host_us_per_fused_call(torch, step, calls=20):
    """Mean CPU time of profiler records named fused_* per such record, and their count per
    step."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(calls):
            step()
    events = [e for e in prof.events() if e.name.startswith("fused_")]
    if not events:
        return None, 0.0
    return statistics.mean(e.cpu_time_total for e in events), len(events) / calls


def run_workload(torch, mode, name, args, wrap, sync, record):
    tmpdir = tempfile.mkdtemp(prefix="workloads_")
    try:
        w = make_workload(name, args.device, load_source(tmpdir, "m"), load_source(tmpdir, "ref"))
        torch.set_grad_enabled(w.train)
        fn = w.fn if mode == "eager" else wrap(w.fn)
        if isinstance(fn, torch.jit.ScriptModule) and not w.train:
            fn = torch.jit.freeze(fn)  # inference models, as deployed

        def step():
            if w.train:
                for p in w.params:
                    p.grad = None
                out = fn(*w.args)
                outputs(out)[0].float().sum().backward()
                return out
            return fn(*w.args)

        with torch.no_grad():
            want = [t.clone() for t in outputs(w.ref(*w.args))]
        stats = None
        if mode == "torch_fuser":
            import torch_fuser
            stats = torch_fuser.stats
        sync()
        start = time.perf_counter()
        out = step()
        sync()
        record["first_ms"] = (time.perf_counter() - start) * 1e3
        if mode == "inductor" and record["first_ms"] > args.inductor_limit * 1e3:
            record["skipped"] = f"first call (compile) took {record['first_ms'] / 1e3:.0f} s"
            return
        errs = [compare(torch, out, want, w.exact)]
        calls_ms = [record["first_ms"]]
        for _ in range(WARMUP):
            start = time.perf_counter()
            got = step()
            sync()
            calls_ms.append((time.perf_counter() - start) * 1e3)
            errs.append(compare(torch, got, want, w.exact))
        record["calls_ms"] = calls_ms  # the first 1 + WARMUP calls (first_call.py)
        s0 = stats() if stats else None
        if s0:
            record["tf_warmup"] = {k: s0[k] for k in ("kernels_compiled", "disk_cache_hits",
                                                       "fallbacks", "kernel_launches")}
            record["tf_warmup"]["compiles_pending"] = s0.get("compiles_pending", 0)

        def run(iters):
            sync()
            t = time.perf_counter()
            for _ in range(iters):
                step()
            sync()
            return (time.perf_counter() - t) * 1e3 / iters

        one = max(run(1), 1e-3)
        iters = int(min(max(args.target_ms / one, 1), 2000))
        samples = [run(iters) for _ in range(args.repeats)]
        calls = 1 + iters * args.repeats
        errs.append(compare(torch, step(), want, w.exact))
        record.update(ms=statistics.median(samples), samples_ms=samples, err=max(errs), tol=w.tol,
                      ok=max(errs) <= w.tol, train=w.train)
        if stats:
            s1 = stats()
            record["tf_launches_per_call"] = (s1["kernel_launches"] - s0["kernel_launches"]) / calls
            record["tf_fallbacks_per_call"] = (s1["fallbacks"] - s0["fallbacks"]) / calls
            record["tf_replays_per_call"] = (s1.get("graph_replays", 0) - s0.get("graph_replays", 0)) / calls
        if args.profile and mode in ("torch_fuser", "nnc"):
            us, per_step = host_us_per_fused_call(torch, step)
            record.update(host_us_per_fused_call=us, fused_calls_per_step=per_step)
    finally:
        torch.set_grad_enabled(True)
        shutil.rmtree(tmpdir, ignore_errors=True)


def worker(args):
    import torch
    name = args.workloads[0]
    record = {"mode": args.mode, "workload": name, "threads": torch.get_num_threads(),
              "torch": torch.__version__}
    if WORKLOADS[name][1] and importlib.util.find_spec("torchvision") is None:
        record["skipped"] = "torchvision is not installed"
    else:
        wrap = wrap_for(args.mode, args.device, args.inductor_limit)
        if isinstance(wrap, str):
            record["skipped"] = wrap
        else:
            gpu = args.device.startswith("cuda")
            sync = torch.cuda.synchronize if gpu else (lambda: None)
            try:
                run_workload(torch, args.mode, name, args, wrap, sync, record)
            except Exception as e:  # reported in the table
                record["error"] = f"{type(e).__name__}: {(str(e).strip().splitlines() or [''])[0][:200]}"
    print(json.dumps(record), flush=True)


# ----------------------------------------------------------------------------- driver


def run_all(args):
    records = []
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.dirname(HERE), os.environ.get("PYTHONPATH", "")]))
    # Steady-state timings: kernels compile before the call that needs them (first_call.py
    # measures background compilation).
    env.setdefault("TORCH_FUSER_SYNC_COMPILE", "1")
    for name in args.workloads:
        for mode in args.modes:
            cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--mode", mode, "--device", args.device,
                   "--workloads", name, "--repeats", str(args.repeats), "--target-ms", str(args.target_ms),
                   "--inductor-limit", str(args.inductor_limit)] + (["--profile"] if args.profile else [])
            start = time.perf_counter()
            limit = args.inductor_limit * 2 + 300 if mode == "inductor" else 900
            try:
                proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True, timeout=limit)
                got = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
                if not got:
                    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1][:200]
                    got = [{"mode": mode, "workload": name, "error": f"exit {proc.returncode}: {tail}"}]
            except subprocess.TimeoutExpired:
                got = [{"mode": mode, "workload": name, "error": f"timed out after {limit:.0f} s"}]
            records += got
            r = got[0]
            msg = r.get("error") or r.get("skipped") or f"{r['ms']:.2f} ms, first {r['first_ms']:.0f} ms, err {r['err']:.1g}"
            print(f"# {name} {mode}: {msg} ({time.perf_counter() - start:.0f} s)", file=sys.stderr, flush=True)
    return records


def summarize(records, args):
    modes = [m for m in args.modes if any(r["mode"] == m and "ms" in r for r in records)]
    peers = [m for m in PEERS if m in modes]
    fuser = "torch_fuser" in modes
    head = ["workload"] + [f"{m} ms" for m in modes] + [f"{m}/tf" for m in peers if fuser]
    head += ["first call ms " + "/".join(modes)]
    if fuser:
        head += ["tf kernels/call", "tf graph replays/call", "tf fallbacks/call", "tf max rel diff"]
    if args.profile:
        head += ["host us per fused call tf / nnc (calls per step)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    notes = []
    by = {(r["mode"], r["workload"]): r for r in records}
    for name in args.workloads:
        rs = {m: by.get((m, name), {}) for m in modes}
        for m in args.modes:
            r = by.get((m, name), {})
            if r.get("error") or r.get("skipped"):
                notes.append(f"- {name} {m}: {r.get('error') or r.get('skipped')}")
            elif "ok" in r and not r["ok"]:
                notes.append(f"- {name} {m}: **differs from eager** by {r['err']:.2g} (tolerance {r['tol']:.1g})")
        if not any("ms" in r for r in rs.values()):
            continue
        tf = rs.get("torch_fuser", {})
        row = [name] + [f"{rs[m]['ms']:.2f}" if "ms" in rs[m] else "n/a" for m in modes]
        if fuser:
            row += [f"{rs[m]['ms'] / tf['ms']:.2f}" if "ms" in rs[m] and "ms" in tf else "n/a" for m in peers]
        row.append(" / ".join(f"{rs[m]['first_ms']:.0f}" if "first_ms" in rs[m] else "n/a" for m in modes))
        if fuser:
            row.append(f"{tf['tf_launches_per_call']:.1f}" if "tf_launches_per_call" in tf else "n/a")
            row.append(f"{tf['tf_replays_per_call']:.2f}" if "tf_replays_per_call" in tf else "n/a")
            row.append(f"{tf['tf_fallbacks_per_call']:.1f}" if "tf_fallbacks_per_call" in tf else "n/a")
            row.append((f"{tf['err']:.1g}" + ("" if tf["ok"] else " **WRONG**")) if "err" in tf else "n/a")
        if args.profile:
            def host(r):
                us = r.get("host_us_per_fused_call")
                return "n/a" if us is None else f"{us:.1f} ({r['fused_calls_per_step']:.0f})"
            row.append(f"{host(tf)} / {host(rs.get('nnc', {}))}")
        lines.append("| " + " | ".join(row) + " |")
    threads = next((r["threads"] for r in records if "threads" in r), None)
    version = next((r["torch"] for r in records if "torch" in r), None)
    legend = (f"\n{args.device}, torch {version}, {threads} thread(s); every (mode, workload) in a fresh process; "
              f"ms per call (training workloads: forward + backward), median of {args.repeats} samples of "
              f"~{args.target_ms:g} ms after {WARMUP + 1} warm-up calls. `X/tf` = X time / torch_fuser time "
              "(>= 1: torch_fuser not slower). first call = time to first result in a fresh process (profiling, "
              "compiles, disk cache as found). max rel diff = largest |fused - eager| / max|eager| over the "
              "warm-up calls and a final call (dropout workloads: shapes and finiteness only).")
    return "\n".join(lines) + "\n" + legend + ("\n\n" + "\n".join(notes) if notes else "")


def plot(records, args, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("# matplotlib missing: no chart", file=sys.stderr)
        return
    modes = [m for m in args.modes if any(r["mode"] == m and "ms" in r for r in records)]
    names = [w for w in args.workloads if any(r["workload"] == w and "ms" in r for r in records)]
    if not names or "eager" not in modes:
        return
    fig, ax = plt.subplots(figsize=(max(8, len(names) * 1.2), 4))
    width = 0.8 / len(modes)
    for i, mode in enumerate(modes):
        values = []
        for w in names:
            eager = next((r["ms"] for r in records if r["mode"] == "eager" and r["workload"] == w and "ms" in r), None)
            mine = next((r["ms"] for r in records if r["mode"] == mode and r["workload"] == w and "ms" in r), None)
            values.append(eager / mine if eager and mine else 0)
        ax.bar([x + i * width for x in range(len(names))], values, width, label=mode)
    ax.set_xticks([x + 0.4 - width / 2 for x in range(len(names))])
    ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("speed-up over eager")
    ax.axhline(1.0, color="black", linewidth=0.5)
    ax.legend(ncol=len(modes), fontsize=8)
    ax.set_title(f"workloads ({args.device})")
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def main():
    args = defaults(parse_args())
    if args.worker:
        return worker(args)
    records = run_all(args)
    os.makedirs(args.out, exist_ok=True)
    stamp = datetime.date.today().isoformat() if args.name else datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    prefix = os.path.join(args.out, f"{args.name or args.device + '-workloads'}-{stamp}")
    table = summarize(records, args)
    with open(prefix + ".json", "w") as f:
        json.dump({"args": vars(args), "records": records}, f, indent=1)
    with open(prefix + ".md", "w") as f:
        f.write(table + "\n")
    plot(records, args, prefix + ".png")
    print(table)
    print(f"\n# wrote {prefix}.json/.md/.png", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
