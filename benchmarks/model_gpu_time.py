"""Is a workload bound by the host or the GPU, in one mode? Wall time per call over 50 calls
issued without synchronizing (the host's issue rate once it exceeds the GPU's) next to the
GPU's busy time per call (torch.profiler), the top kernels by device time, and the fusion
groups and captured graphs in the optimized graph. CUDA only.

    python3 benchmarks/model_gpu_time.py eager|nnc|legacy|torch_fuser WORKLOAD

WORKLOAD is one of workloads.py's (inference ones: the function runs under no_grad).
"""
import collections
import os
import sys
import tempfile
import time

import torch

import workloads

GROUP_KINDS = ("fuser::FusionGroup", "prim::TensorExprGroup", "prim::FusionGroup")


def describe_graph():
    graph = torch.jit.last_executed_optimized_graph()
    groups = [n for kind in GROUP_KINDS for n in graph.findAllNodes(kind)]
    for node in groups[:4]:
        print("  group:", [k.kind() for k in node.g("Subgraph").nodes()])
    print(f"  {len(groups)} groups; captured graphs: {len(graph.findAllNodes('fuser::CapturedGraph'))}")


def kernel_times(fn, args, calls=5):
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for _ in range(calls):
            fn(*args)
        torch.cuda.synchronize()
    busy, count = collections.Counter(), collections.Counter()
    for e in prof.events():
        if e.device_type == torch.autograd.DeviceType.CUDA:
            busy[e.name] += getattr(e, "device_time_total", None) or e.cuda_time_total
            count[e.name] += 1
    print(f"  GPU busy {sum(busy.values()) / calls / 1e3:.3f} ms per call, "
          f"{sum(count.values()) / calls:.0f} kernels per call")
    for name, us in busy.most_common(14):
        print(f"  {count[name] / calls:5.0f} {us / calls:9.1f} us  {name[:110]}")


def main():
    mode, name = sys.argv[1], sys.argv[2]
    wrap = workloads.wrap_for(mode, "cuda", 120)
    tmp = tempfile.mkdtemp()
    w = workloads.make_workload(name, "cuda", workloads.load_source(tmp, "m"),
                                workloads.load_source(tmp, "r"))
    with torch.no_grad():
        fn = w.fn if mode == "eager" else wrap(w.fn)
        if isinstance(fn, torch.jit.ScriptModule):
            fn = torch.jit.freeze(fn)  # as workloads.py runs inference models
        for _ in range(8):
            fn(*w.args)
        torch.cuda.synchronize()
        if mode != "eager":
            describe_graph()
        start = time.perf_counter()
        for _ in range(50):
            fn(*w.args)
        torch.cuda.synchronize()
        print(f"[{mode}] {name}: {(time.perf_counter() - start) * 20:.3f} ms per call")
        kernel_times(fn, w.args)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()
