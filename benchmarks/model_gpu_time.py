"""Is a workload bound by the host or the GPU, in one mode? Wall time per call over 50 calls
issued without synchronizing (the host's issue rate once it exceeds the GPU's) next to the
GPU's busy time per call (torch.profiler), the top kernels by device time, and the fusion
groups and captured graphs in the optimized graph. CUDA only.

    python3 benchmarks/model_gpu_time.py eager|nnc|legacy|torch_fuser WORKLOAD

WORKLOAD is one of workloads.py's (inference ones: the function runs under no_grad).
"""
import os, sys, tempfile, collections, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
import torch
import workloads
mode, name = sys.argv[1], sys.argv[2]
wrap = workloads.wrap_for(mode, "cuda", 120)
tmp = tempfile.mkdtemp()
w = workloads.make_workload(name, "cuda", workloads.load_source(tmp, "m"), workloads.load_source(tmp, "r"))
m = w.fn
with torch.no_grad():
    fn = m if mode == "eager" else wrap(m)
    if isinstance(fn, torch.jit.ScriptModule):
        fn = torch.jit.freeze(fn)
    for i in range(8): fn(*w.args)
    torch.cuda.synchronize()
    if mode != "eager":
        g = torch.jit.last_executed_optimized_graph()
        groups = [n for n in g.findAllNodes("fuser::FusionGroup") + g.findAllNodes("prim::TensorExprGroup") + g.findAllNodes("prim::FusionGroup")]
        for n in groups[:4]:
            sub = n.g("Subgraph")
            print("  group:", [k.kind() for k in sub.nodes()], [str(i.type()) for i in n.inputs()][:3])
        print(f"  {len(groups)} groups; captured: {len(g.findAllNodes('fuser::CapturedGraph'))}")
    t = time.perf_counter()
    for i in range(50): fn(*w.args)
    torch.cuda.synchronize()
    print(f"[{mode}] {name}: {(time.perf_counter() - t) * 20:.3f} ms per call")
    from torch.profiler import profile, ProfilerActivity
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for i in range(5): fn(*w.args)
        torch.cuda.synchronize()
dev = collections.Counter(); cnt = collections.Counter()
for e in prof.events():
    if e.device_type == torch.autograd.DeviceType.CUDA:
        dev[e.name] += e.device_time_total if hasattr(e, "device_time_total") else e.cuda_time_total
        cnt[e.name] += 1
print(f"  GPU busy {sum(dev.values()) / 5 / 1e3:.3f} ms per call, {sum(cnt.values()) / 5:.0f} kernels per call")
for k, v in dev.most_common(14):
    print(f"  {cnt[k] / 5:5.0f} {v / 5:9.1f} us  {k[:110]}")
