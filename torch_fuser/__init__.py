"""torch_fuser: fuses chains of elementwise ops in TorchScript graphs into single
compiled kernels (C++ on CPU, NVRTC on CUDA).

Importing the package loads the library and enables fusion; every function scripted
with ``torch.jit.script`` afterwards runs its elementwise chains as fused kernels.
"""
import torch  # noqa: F401  (loads libtorch before our library)

from . import _C

__all__ = [
    "enable",
    "disable",
    "is_enabled",
    "fuse_graph",
    "kernel_source",
    "stats",
    "clear_cache",
]


def enable(cpu=True, cuda=True):
    """Fuse on the given devices; switches PyTorch's own fusers off meanwhile."""
    _C.enable(cpu=cpu, cuda=cuda)


def disable():
    """Stop fusing and restore PyTorch's own fuser settings."""
    _C.disable()


def is_enabled():
    return _C.is_enabled()


def fuse_graph(graph):
    """Run the fusion pass on a ``torch._C.Graph`` in place; returns the graph."""
    _C.fuse_graph(graph)
    return graph


def kernel_source(fn, *example_inputs):
    """Source code of the kernels ``fn`` launches on ``example_inputs``.

    ``fn`` is scripted if it is not already. It is run a few times first so the
    profiling executor reaches its optimized graph; the sources of the kernels launched
    by the last call are returned (an empty list if everything fell back).
    """
    if not isinstance(fn, (torch.jit.ScriptFunction, torch.jit.ScriptModule)):
        fn = torch.jit.script(fn)
    with torch.no_grad():
        for _ in range(3):
            fn(*example_inputs)
        return list(_C._record_kernel_sources(fn, *example_inputs))


def stats():
    """Counters: kernels_compiled, memory_cache_hits, disk_cache_hits, fallbacks,
    compile_seconds, fusion_groups_registered; cache sizes fusions_cached, kernels_cached
    and evictions fusions_evicted, kernels_evicted."""
    return dict(_C.stats())


def set_cache_limits(max_fusions=None, max_kernels_per_fusion=None):
    """Bound the in-memory caches: fusions (one per distinct fused subgraph) and compiled
    kernels per fusion (one per dtype/device/rank/layout combination). Least recently used
    entries are dropped first; graphs in use keep working. Defaults 4096 and 32, or the
    environment's TORCH_FUSER_MAX_FUSIONS / TORCH_FUSER_MAX_KERNELS_PER_FUSION."""
    for value in (max_fusions, max_kernels_per_fusion):
        if value is not None and value <= 0:
            raise ValueError("cache limits must be positive, got %r" % (value,))
    _C.set_cache_limits(max_fusions or 0, max_kernels_per_fusion or 0)


def clear_cache():
    """Drop every compiled kernel; fused graphs recompile on their next call."""
    _C.clear_cache()


enable()
