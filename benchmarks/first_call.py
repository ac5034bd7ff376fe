"""Cold vs warm first-call latency: the same scripted model in two fresh processes sharing
one kernel disk cache. The first compiles its kernels, the second loads them.

    python3 benchmarks/first_call.py"""
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

CHILD = r"""
import json, time, sys
sys.path.insert(0, {here!r})
import torch, torch_fuser
from cases import CASES, make_inputs
fn = torch.jit.script(CASES["chain"])
args = make_inputs("chain", 1 << 16, torch.float32, "cpu")
calls = []
for _ in range(4):
    start = time.perf_counter()
    fn(*args)
    calls.append((time.perf_counter() - start) * 1e3)
print(json.dumps({{"calls_ms": calls, "stats": torch_fuser.stats()}}))
"""


def run(cache):
    env = dict(os.environ, TORCH_FUSER_CACHE_DIR=cache,
               PYTHONPATH=os.pathsep.join([os.path.dirname(HERE), os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", CHILD.format(here=HERE)], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    with tempfile.TemporaryDirectory() as cache:
        cold, warm = run(cache), run(cache)
    for name, r in (("cold (empty cache)", cold), ("warm (disk cache hit)", warm)):
        s = r["stats"]
        print(f"{name:22s} calls ms: {', '.join(f'{c:.1f}' for c in r['calls_ms'])}   "
              f"compiled {s['kernels_compiled']}, disk hits {s['disk_cache_hits']}, "
              f"compile {s['compile_seconds'] * 1e3:.1f} ms")
    print(f"first-fused-call overhead: cold {max(cold['calls_ms']):.1f} ms, warm {max(warm['calls_ms']):.1f} ms")


if __name__ == "__main__":
    main()
