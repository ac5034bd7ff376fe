"""Time to first result: each workload of workloads.py in fresh processes, eager beside
PyTorch's fusers (NNC, legacy) and torch_fuser compiling before the call (sync) and in the
background, each with an empty kernel disk cache (cold) and then with the cache the cold
process left (warm).

    python3 benchmarks/first_call.py [--device cpu|cuda] [--workloads lstm_train,...]
                                     [--out DIR] [--name NAME]

Per process: the time of each of the first 1 + WARMUP calls (the profiling executor
profiles, optimizes, then runs fused graphs; a cold sync process compiles inside one of
them), their total, and what torch_fuser did meanwhile (kernels compiled, disk cache hits,
fallbacks, compiles still pending). The question it answers: does a cold process ever
wait for the compiler? With background compilation its calls should cost no more than
eager's plus the profiling executor's own first-call work.
Writes JSON and a markdown table under --out and prints the table.
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from workloads import WORKLOADS  # noqa: E402

# (label, mode, TORCH_FUSER_SYNC_COMPILE, cache: None / "cold" (new) / "warm" (the last cold))
VARIANTS = [
    ("eager", "eager", "1", None),
    ("nnc", "nnc", "1", None),  # PyTorch's fusers: TorchScript's own first-call cost beside ours
    ("legacy", "legacy", "1", None),
    ("tf sync cold", "torch_fuser", "1", "cold"),
    ("tf sync warm", "torch_fuser", "1", "warm"),
    ("tf background cold", "torch_fuser", "0", "cold"),
    ("tf background warm", "torch_fuser", "0", "warm"),
]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu")
    p.add_argument("--workloads", default="lstm_infer_tiny,lstm_train,mlp_train,transformer")
    p.add_argument("--out", default=os.path.join(HERE, "reports"))
    p.add_argument("--name", default=None)
    args = p.parse_args(argv)
    args.workloads = [w for w in args.workloads.split(",") if w]
    for w in args.workloads:
        if w not in WORKLOADS:
            p.error(f"unknown workload {w}; known: {', '.join(WORKLOADS)}")
    return args


def run_variant(args, workload, mode, sync_compile, cache_dir):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.dirname(HERE), os.environ.get("PYTHONPATH", "")]),
               TORCH_FUSER_SYNC_COMPILE=sync_compile)
    if cache_dir:
        env["TORCH_FUSER_CACHE_DIR"] = cache_dir
    cmd = [sys.executable, os.path.join(HERE, "workloads.py"), "--worker", "--mode", mode, "--device",
           args.device, "--workloads", workload, "--repeats", "1", "--target-ms", "1"]
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=900)
    got = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    if not got:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1][:200]
        return {"error": f"exit {proc.returncode}: {tail}"}
    return got[0]


def run_all(args):
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        for workload in args.workloads:
            cache = None
            for label, mode, sync_compile, cache_use in VARIANTS:
                if cache_use == "cold":
                    cache = tempfile.mkdtemp(dir=tmp)
                r = run_variant(args, workload, mode, sync_compile, cache if cache_use else None)
                r.update(variant=label, workload=workload)
                records.append(r)
                msg = r.get("error") or r.get("skipped") or (
                    f"first {r['calls_ms'][0]:.0f} ms, warm-up total {sum(r['calls_ms']):.0f} ms")
                print(f"# {workload} {label}: {msg}", file=sys.stderr, flush=True)
    return records


def table(records, args):
    lines = ["| workload | variant | first call ms | calls 1-6 ms (total) | slowest call ms | steady ms | "
             "compiled / disk hits / fallbacks (warm-up) | pending after warm-up | ok |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        if "calls_ms" not in r:
            why = r.get("error") or r.get("skipped") or "?"
            lines.append(f"| {r['workload']} | {r['variant']} | {why} | | | | | | |")
            continue
        calls = r["calls_ms"]
        tf = r.get("tf_warmup")
        did = f"{tf['kernels_compiled']} / {tf['disk_cache_hits']} / {tf['fallbacks']}" if tf else ""
        pending = str(tf["compiles_pending"]) if tf else ""
        lines.append(f"| {r['workload']} | {r['variant']} | {calls[0]:.1f} | "
                     f"{' '.join(f'{c:.1f}' for c in calls)} ({sum(calls):.0f}) | {max(calls):.1f} | "
                     f"{r.get('ms', float('nan')):.2f} | {did} | {pending} | {'yes' if r.get('ok') else 'NO'} |")
    torch_version = next((r["torch"] for r in records if "torch" in r), "?")
    lines.append("")
    lines.append(f"{args.device}, torch {torch_version}; each row a fresh process. cold: empty kernel disk "
                 "cache; warm: the cache the cold process above left. sync: TORCH_FUSER_SYNC_COMPILE=1 "
                 "(the call that needs a kernel compiles it); background: the default (calls run the "
                 "interpreter until the kernel is ready). Calls 1-6: the profiling executor profiles, "
                 "optimizes, then runs the fused graph. steady: one timed call after them "
                 "(background: may still include fallbacks). ok: results match eager.")
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    records = run_all(args)
    text = table(records, args)
    print(text)
    name = args.name or f"first-call-{args.device.split(':')[0]}-{datetime.date.today().isoformat()}"
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, name + ".json"), "w") as f:
        json.dump(records, f, indent=1)
    with open(os.path.join(args.out, name + ".md"), "w") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
