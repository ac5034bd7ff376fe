"""Switching situations: is a scripted function ever slower with torch_fuser than without
it when what it is called with changes during its life? Each mode runs in a fresh process.

    python3 benchmarks/switching.py [--device cpu|cuda] [--cases eval_to_train,...]
                                    [--modes eager,script,...] [--repeats 5] [--out DIR]
                                    [--name NAME]

Modes: eager (plain Python); script (torch.jit.script with every fuser off: profiling
executor, TE fuser off, legacy fusion off -- "without torch_fuser"); nnc (TE fuser on,
profiling executor; skipped on CPU without LLVM); legacy (PyTorch's legacy fuser, profiling
executor off); torch_fuser (import torch_fuser, profiling executor).

Cases, each a whole life of ONE freshly scripted function timed in phases:
  eval_to_train     block(x, w) = mm + sigmoid*tanh+relu: no_grad, then training steps, then no_grad
  train_to_eval     the same block trained first, then inference
  dtype_switch      pointwise chain on 2^20 elements: float32, float64, float16 (where eager
                    supports it), back to float32
  rank_switch       the chain on 2-D, then 3-D inputs of the same numel, back to 2-D
  layout_switch     the chain on contiguous, transposed, channels_last 4-D, back to contiguous
  device_switch     the chain on CPU, then CUDA, back to CPU (CUDA only)
  lstm_loop         a fastrnns-style LSTM looping over seq in TorchScript: inference,
                    training (forward + backward), inference
  lstm_train_fresh  the same LSTM trained from its first call

Every phase: warm-up calls (not in the steady time; their total and the first call after the
switch are reported), then the median of --repeats samples, each a loop of calls of about
--target-ms. Outputs (and gradients in training phases) of the warm-up calls and of a final
call are checked against eager. In the torch_fuser mode the phase's torch_fuser.stats()
deltas are recorded (fallbacks; kernels run ~ memory_cache_hits + kernels_compiled +
disk_cache_hits). Writes JSON, a PNG and a markdown table under --out and prints the table.
"""
import argparse
import datetime
import importlib.util
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

MODES = ("eager", "script", "nnc", "legacy", "torch_fuser")
PEERS = ("script", "nnc", "legacy")  # reported as peer/torch_fuser time ratios
CASES = ("eval_to_train", "train_to_eval", "dtype_switch", "rank_switch", "layout_switch",
         "device_switch", "lstm_loop", "lstm_train_fresh")
GPU_ONLY = ("device_switch",)
WARMUP_FIRST = 5    # calls before timing the first phase (profiling + optimization)
WARMUP_SWITCH = 10  # after a switch: guards fail, the fallback graph is profiled and re-optimized

# The functions under test. Each case imports this text from its own .py file (a fresh module,
# so fresh function objects: torch.jit.script caches per function object; torch 2.x needs the
# source in a real file).
SOURCE = '''
from typing import List, Tuple

import torch


def block(x, w):
    y = x.mm(w)
    return torch.sigmoid(y) * torch.tanh(y) + torch.relu(y)


def chain(x, y, z):
    return torch.sigmoid(x * y + z).tanh() * 0.5 + torch.relu(x)


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
'''


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu")
    p.add_argument("--cases", default=None, help="comma-separated, default all (for the device)")
    p.add_argument("--modes", default=None, help="comma-separated, default " + ",".join(MODES))
    p.add_argument("--repeats", type=int, default=5, help="samples per phase (median reported)")
    p.add_argument("--target-ms", type=float, default=None, help="time per sample (100 CPU, 20 CUDA)")
    p.add_argument("--out", default=os.path.join(HERE, "results"))
    p.add_argument("--name", default=None,
                   help="file name prefix; files are NAME-YYYY-MM-DD.* (default DEVICE-switching-TIMESTAMP.*)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--mode", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def defaults(args):
    gpu = args.device.startswith("cuda")
    cases = args.cases.split(",") if args.cases else [c for c in CASES if gpu or c not in GPU_ONLY]
    for c in cases:
        if c not in CASES:
            raise SystemExit(f"unknown case {c!r}; cases: {', '.join(CASES)}")
    args.cases = cases
    args.modes = (args.modes or ",".join(MODES)).split(",")
    for m in args.modes:
        if m not in MODES:
            raise SystemExit(f"unknown mode {m!r}; modes: {', '.join(MODES)}")
    args.target_ms = args.target_ms or (20.0 if gpu else 100.0)
    return args


# ----------------------------------------------------------------------------- worker


def setup(mode, device):
    """Switches PyTorch into `mode`; returns a function wrapping a Python function, or None
    when the mode is unavailable here (run.py prints why)."""
    import torch
    if mode == "script":  # TorchScript without any fuser
        torch._C._jit_set_profiling_executor(True)
        torch._C._jit_set_texpr_fuser_enabled(False)
        torch._C._jit_override_can_fuse_on_cpu(False)
        torch._C._jit_override_can_fuse_on_gpu(False)
        if hasattr(torch._C, "_jit_override_can_fuse_on_cpu_legacy"):
            torch._C._jit_override_can_fuse_on_cpu_legacy(False)
        if hasattr(torch._C, "_jit_set_nvfuser_enabled"):
            try:
                torch._C._jit_set_nvfuser_enabled(False)
            except RuntimeError:
                pass
        return torch.jit.script
    from run import setup_mode
    wrap = setup_mode(mode, device)
    if mode == "torch_fuser" and wrap is not None:
        torch._C._jit_set_profiling_executor(True)
    return wrap


def load_functions(tmpdir, tag, source=SOURCE, prefix="switching_fns"):
    """A fresh module holding `source`, imported from a real file (workloads.py too)."""
    name = f"{prefix}_{tag}"
    path = os.path.join(tmpdir, name + ".py")
    with open(path, "w") as f:
        f.write(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class Phase:
    def __init__(self, name, make, train=False, warmup=WARMUP_SWITCH, skip=None):
        self.name, self.make, self.train, self.warmup, self.skip = name, make, train, warmup, skip


def scenario(case, device, mod):
    """Returns (python function, [Phase]) for a case. `make` returns (args, params), params being
    the tensors whose gradients the training phases check."""
    import torch
    gpu = device.startswith("cuda")
    torch.manual_seed(0)

    if case in ("eval_to_train", "train_to_eval"):
        m, k = (4096, 1024) if gpu else (256, 256)
        x = torch.randn(m, k, device=device)
        w = (torch.randn(k, k, device=device) * k ** -0.5).requires_grad_()
        make = lambda: ((x, w), [w])  # noqa: E731
        if case == "eval_to_train":
            return mod.block, [Phase("A eval", make, warmup=WARMUP_FIRST), Phase("B train", make, train=True),
                               Phase("C eval", make)]
        return mod.block, [Phase("A train", make, train=True, warmup=WARMUP_FIRST), Phase("B eval", make)]

    if case in ("lstm_loop", "lstm_train_fresh"):
        seq, batch, hidden = (100, 64, 512) if gpu else (20, 16, 128)
        inp = hidden
        x = torch.randn(seq, batch, inp, device=device)
        hx, cx = torch.randn(batch, hidden, device=device), torch.randn(batch, hidden, device=device)
        params = [(torch.randn(4 * hidden, inp, device=device) * inp ** -0.5).requires_grad_(),
                  (torch.randn(4 * hidden, hidden, device=device) * hidden ** -0.5).requires_grad_(),
                  (torch.randn(4 * hidden, device=device) * 0.1).requires_grad_(),
                  (torch.randn(4 * hidden, device=device) * 0.1).requires_grad_()]
        make = lambda: ((x, hx, cx, *params), params)  # noqa: E731
        if case == "lstm_train_fresh":
            return mod.lstm, [Phase("A train", make, train=True, warmup=WARMUP_FIRST)]
        return mod.lstm, [Phase("A eval", make, warmup=WARMUP_FIRST), Phase("B train", make, train=True),
                          Phase("C eval", make)]

    # pointwise chain on 2^20 elements
    def chain_inputs(shape, dtype=torch.float32, dev=device, fmt=None, transpose=False):
        def make():
            g = torch.Generator().manual_seed(1)
            ts = [torch.randn(shape, generator=g, dtype=torch.float32).to(dev, dtype) for _ in range(3)]
            if transpose:
                ts = [t.t() for t in ts]
            if fmt is not None:
                ts = [t.contiguous(memory_format=fmt) for t in ts]
            return tuple(ts), []
        return make

    flat = (1024, 1024)
    if case == "dtype_switch":
        half_skip = None
        if not gpu:
            try:
                t = torch.ones(4, dtype=torch.float16)
                mod.chain(t, t, t)
            except RuntimeError as e:
                half_skip = "eager cannot run the chain in float16 on CPU here: " + str(e).splitlines()[0][:80]
        return mod.chain, [Phase("A float32", chain_inputs(flat), warmup=WARMUP_FIRST),
                           Phase("B float64", chain_inputs(flat, torch.float64)),
                           Phase("C float16", chain_inputs(flat, torch.float16), skip=half_skip),
                           Phase("D float32 again", chain_inputs(flat))]
    if case == "rank_switch":
        return mod.chain, [Phase("A 2-D 1024x1024", chain_inputs(flat), warmup=WARMUP_FIRST),
                           Phase("B 3-D 64x128x128", chain_inputs((64, 128, 128))),
                           Phase("C 2-D again", chain_inputs(flat))]
    if case == "layout_switch":
        return mod.chain, [Phase("A contiguous", chain_inputs(flat), warmup=WARMUP_FIRST),
                           Phase("B transposed", chain_inputs(flat, transpose=True)),
                           Phase("C channels_last 4-D", chain_inputs((16, 64, 32, 32), fmt=torch.channels_last)),
                           Phase("D contiguous again", chain_inputs(flat))]
    if case == "device_switch":
        skip = None if gpu else "needs CUDA"
        return mod.chain, [Phase("A cpu", chain_inputs(flat, dev="cpu"), warmup=WARMUP_FIRST, skip=skip),
                           Phase("B cuda", chain_inputs(flat, dev=device), skip=skip),
                           Phase("C cpu again", chain_inputs(flat, dev="cpu"), skip=skip)]
    raise ValueError(case)


def tensors(out):
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in tensors(o)]
    return [out]


def max_diff(got, want):
    diffs = [(g.detach().double() - w.detach().double()).abs().max().item() if w.numel() else 0.0
             for g, w in zip(got, want)]
    if len(got) != len(want):
        return math.inf
    return max(diffs, default=0.0)


def scale(ts):
    return max([1.0] + [t.detach().double().abs().max().item() for t in ts if t.numel()])


TOLERANCE = {"float64": 1e-9, "float32": 1e-4, "float16": 1e-2, "bfloat16": 3e-2}


def run_phase(torch, fn, ref, phase, sync, measure, fuser_stats, record):
    torch.set_grad_enabled(phase.train)
    args, params = phase.make()

    def step():
        if phase.train:
            for p in params:
                p.grad = None
            out = fn(*args)
            tensors(out)[0].sum().backward()
            return out
        return fn(*args)

    # eager reference, same inputs
    if phase.train:
        for p in params:
            p.grad = None
        out = ref(*args)
        want = [t.detach().clone() for t in tensors(out)]
        tensors(out)[0].sum().backward()
        del out
        want_grads = [p.grad.clone() for p in params]
        for p in params:
            p.grad = None
    else:
        want = [t.clone() for t in tensors(ref(*args))]
        want_grads = []
    dtype = str(want[0].dtype).replace("torch.", "")
    tol = TOLERANCE.get(dtype, 1e-4)
    record.update(dtype=dtype, train=phase.train, shape=list(args[0].shape),
                  tol_out=tol * scale(want), tol_grad=tol * scale(want_grads) if want_grads else None)

    err_out, err_grad, strides_ok = [], [], True

    def check(out):
        nonlocal strides_ok
        got = tensors(out)
        err_out.append(max_diff(got, want))
        strides_ok = strides_ok and [g.stride() for g in got] == [w.stride() for w in want]
        if phase.train:
            err_grad.append(max_diff([p.grad for p in params], want_grads))

    s0 = fuser_stats()
    warm_ms = []
    for _ in range(phase.warmup):
        sync()
        start = time.perf_counter()
        out = step()
        sync()
        warm_ms.append((time.perf_counter() - start) * 1e3)
        check(out)
        del out
    s1 = fuser_stats()
    us, samples, calls = measure(step)
    s2 = fuser_stats()
    check(step())
    record.update(warmup_calls=phase.warmup, first_ms=warm_ms[0] if warm_ms else None,
                  warmup_ms=sum(warm_ms), warm_ms=warm_ms, us=us, samples_us=samples, timed_calls=calls,
                  err_out=max(err_out), err_grad=max(err_grad) if err_grad else None, strides_match=strides_ok)
    record["ok"] = record["err_out"] <= record["tol_out"] and \
        (record["err_grad"] is None or record["err_grad"] <= record["tol_grad"])
    if s0 is not None:
        record["fuser_warmup"] = stat_delta(s0, s1)
        record["fuser_steady"] = stat_delta(s1, s2)
    torch.set_grad_enabled(True)


def stat_delta(a, b):
    d = {k: b[k] - a[k] for k in ("fallbacks", "kernels_compiled", "memory_cache_hits", "disk_cache_hits",
                                  "compile_seconds", "fusion_groups_registered") if k in a}
    d["kernels_run"] = d.get("memory_cache_hits", 0) + d.get("kernels_compiled", 0) + d.get("disk_cache_hits", 0)
    return d


def make_timer(torch, gpu, target_ms, repeats):
    def sync():
        if gpu:
            torch.cuda.synchronize()

    def measure(step):
        def run(iters):
            sync()
            start = time.perf_counter()
            for _ in range(iters):
                step()
            sync()
            return (time.perf_counter() - start) * 1e3 / iters

        one = max(run(1), 1e-4)
        iters = int(min(max(target_ms / one, 1), 5000))
        samples = [run(iters) * 1e3 for _ in range(repeats)]  # microseconds per call
        return statistics.median(samples), samples, 1 + iters * repeats
    return sync, measure


def worker(args):
    import torch
    wrap = setup(args.mode, args.device)
    if wrap is None:
        print(json.dumps({"mode": args.mode, "skipped": "mode unavailable on this device/torch"}), flush=True)
        return
    gpu = args.device.startswith("cuda")
    sync, measure = make_timer(torch, gpu, args.target_ms, args.repeats)
    if args.mode == "torch_fuser":
        import torch_fuser
        fuser_stats = torch_fuser.stats
    else:
        fuser_stats = lambda: None  # noqa: E731
    tmpdir = tempfile.mkdtemp(prefix="switching_")
    try:
        for case in args.cases:
            mod = load_functions(tmpdir, case)
            py_fn, phases = scenario(case, args.device, mod)
            ref = getattr(load_functions(tmpdir, case + "_ref"), py_fn.__name__)  # eager, untouched
            try:
                fn = wrap(py_fn)  # one scripted function for the whole case
            except Exception as e:
                print(json.dumps({"mode": args.mode, "case": case, "phase": "-", "error": short(e)}), flush=True)
                continue
            for index, phase in enumerate(phases):
                record = {"mode": args.mode, "case": case, "phase": phase.name, "index": index,
                          "threads": torch.get_num_threads(), "torch": torch.__version__}
                if phase.skip:
                    record["skipped"] = phase.skip
                else:
                    try:
                        run_phase(torch, fn, ref, phase, sync, measure, fuser_stats, record)
                    except Exception as e:  # reported, not fatal: later phases still run
                        record["error"] = short(e)
                        torch.set_grad_enabled(True)
                print(json.dumps(record), flush=True)
                msg = record.get("error") or record.get("skipped") or \
                    f"{record['us']:.1f} us, warm-up {record['warmup_ms']:.1f} ms, err {record['err_out']:.2g}"
                print(f"#   {args.mode} {case} {phase.name}: {msg}", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def short(e):
    return f"{type(e).__name__}: {(str(e).strip().splitlines() or [''])[0][:200]}"


# ----------------------------------------------------------------------------- driver


def run_modes(args):
    records = []
    for mode in args.modes:
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--mode", mode,
               "--device", args.device, "--cases", ",".join(args.cases),
               "--repeats", str(args.repeats), "--target-ms", str(args.target_ms)]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [os.path.dirname(HERE), os.environ.get("PYTHONPATH", "")]))
        # Steady-state timings: kernels compile before the call that needs them (first_call.py
        # measures background compilation).
        env.setdefault("TORCH_FUSER_SYNC_COMPILE", "1")
        print(f"# running mode {mode} ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True)  # stderr: live progress
        for line in proc.stdout.splitlines():
            if line.startswith("{"):
                records.append(json.loads(line))
        print(f"# mode {mode}: {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
        if proc.returncode != 0:
            print(f"# mode {mode} exited with {proc.returncode}", file=sys.stderr)
    return records


def fmt_us(us):
    return f"{us:.1f}" if us < 1000 else f"{us:.0f}"


def fmt_err(r):
    if "err_out" not in r:
        return "n/a"
    s = f"{r['err_out']:.1g}"
    if r.get("err_grad") is not None:
        s += f" / g {r['err_grad']:.1g}"
    if not r["ok"]:
        s = "**WRONG** " + s
    if not r.get("strides_match", True):
        s += " (strides differ from eager)"
    return s


def summarize(records, args):
    by = {(r["mode"], r.get("case"), r.get("phase")): r for r in records}
    modes = [m for m in args.modes if any(r["mode"] == m and "us" in r for r in records)]
    peers = [m for m in PEERS if m in modes]
    fuser = "torch_fuser" in modes
    head = ["case", "phase"] + [f"{m} us" for m in modes] + [f"{m}/tf" for m in peers if fuser]
    head += ["warm-up ms " + "/".join(m for m in ("script", "torch_fuser") if m in modes)]
    if fuser:
        head += ["tf fallbacks warm-up/steady", "tf kernels/call"]
    head += ["tf max diff (out / grad)", "worst other jit diff"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    notes = []
    phases = []  # (case, phase) in run order
    for r in records:
        key = (r.get("case"), r.get("phase"))
        if r.get("case") and key not in phases:
            phases.append(key)
    for case, phase in phases:
        rs = {m: by.get((m, case, phase), {}) for m in modes}
        for m, r in rs.items():
            if "error" in r:
                notes.append(f"- {m} {case} {phase}: {r['error']}")
        skipped = [r.get("skipped") for r in rs.values() if r.get("skipped")]
        if skipped and not any("us" in r for r in rs.values()):
            notes.append(f"- {case} {phase}: skipped ({skipped[0]})")
            continue
        row = [case, phase] + [fmt_us(rs[m]["us"]) if "us" in rs[m] else "n/a" for m in modes]
        tf = rs.get("torch_fuser", {})
        if fuser:
            for m in peers:
                row.append(f"{rs[m]['us'] / tf['us']:.2f}" if "us" in rs[m] and "us" in tf else "n/a")
        row.append(" / ".join(f"{rs[m]['warmup_ms']:.0f}" if "warmup_ms" in rs[m] else "n/a"
                              for m in ("script", "torch_fuser") if m in modes))
        if fuser:
            w, s = tf.get("fuser_warmup"), tf.get("fuser_steady")
            row.append(f"{w['fallbacks']} / {s['fallbacks']}" if w else "n/a")
            row.append(f"{s['kernels_run'] / tf['timed_calls']:.1f}" if s else "n/a")
        row.append(fmt_err(tf))
        others = [(rs[m].get("err_out", 0), m) for m in modes if m not in ("eager", "torch_fuser") and "err_out" in rs[m]]
        bad = [m for m in modes if m not in ("eager", "torch_fuser") and "ok" in rs[m] and not rs[m]["ok"]]
        worst = max(others, default=None)
        row.append("n/a" if worst is None else f"{worst[0]:.1g} ({worst[1]})" + (f" **WRONG: {','.join(bad)}**" if bad else ""))
        lines.append("| " + " | ".join(row) + " |")
    for r in records:
        if "case" not in r and r.get("skipped"):
            notes.append(f"- mode {r['mode']}: skipped ({r['skipped']})")
    threads = next((r["threads"] for r in records if "threads" in r), None)
    version = next((r["torch"] for r in records if "torch" in r), None)
    legend = (f"\n{args.device}, torch {version}, {threads} thread(s), median of {args.repeats} samples of "
              f"~{args.target_ms:g} ms per phase, after {WARMUP_FIRST} warm-up calls in a case's first phase and "
              f"{WARMUP_SWITCH} after each switch. `X/tf` = X time / torch_fuser time (>= 1: torch_fuser not "
              "slower). Training phases time one step (forward + backward). warm-up ms = total of the phase's "
              "warm-up calls (profiling, re-specialization, kernel compiles). tf fallbacks = fusion groups that "
              "ran their fallback graph instead of a kernel; tf kernels/call = (memory_cache_hits + "
              "kernels_compiled + disk_cache_hits) per timed call. Diffs are max abs vs eager over the warm-up "
              "calls and a final call (g = weight gradients); WRONG = beyond tolerance; 'strides differ' = the "
              "output's memory layout is not eager's.")
    return "\n".join(lines) + "\n" + legend + ("\n\n" + "\n".join(notes) if notes else "")


def plot(records, args, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("# matplotlib missing: no chart", file=sys.stderr)
        return
    modes = [m for m in args.modes if any(r["mode"] == m and "us" in r for r in records)]
    cases = [c for c in args.cases if any(r.get("case") == c and "us" in r for r in records)]
    if not cases:
        return
    fig, axes = plt.subplots(len(cases), 1, figsize=(11, 3.0 * len(cases)), squeeze=False)
    width = 0.8 / max(len(modes), 1)
    for ax, case in zip(axes[:, 0], cases):
        phases = []
        for r in records:
            if r.get("case") == case and "us" in r and r["phase"] not in phases:
                phases.append(r["phase"])
        for i, mode in enumerate(modes):
            values = [next((r["us"] for r in records if r["mode"] == mode and r.get("case") == case
                            and r.get("phase") == p and "us" in r), 0) for p in phases]
            ax.bar([x + i * width for x in range(len(phases))], values, width, label=mode)
        ax.set_xticks([x + 0.4 - width / 2 for x in range(len(phases))])
        ax.set_xticklabels(phases, fontsize=8)
        ax.set_ylabel("us per call/step")
        ax.set_title(f"{case} ({args.device})", fontsize=10)
    axes[0, 0].legend(ncol=len(modes), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def main():
    args = defaults(parse_args())
    if args.worker:
        worker(args)
        return
    start = time.perf_counter()
    records = run_modes(args)
    os.makedirs(args.out, exist_ok=True)
    if args.name:
        base = os.path.join(args.out, f"{args.name}-{datetime.date.today().isoformat()}")
    else:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        base = os.path.join(args.out, f"{args.device.replace(':', '')}-switching-{stamp}")
    table = summarize(records, args)
    with open(base + ".json", "w") as f:
        json.dump({"device": args.device, "args": vars(args), "records": records}, f, indent=1)
    with open(base + ".md", "w") as f:
        f.write(table + "\n")
    plot(records, args, base + ".png")
    print(table)
    print(f"# wrote {base}.json/.md/.png in {time.perf_counter() - start:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
