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
    compile_seconds, fusion_groups_registered."""
    return dict(_C.stats())


def clear_cache():
    """Drop every compiled kernel; fused graphs recompile on their next call."""
    _C.clear_cache()


enable()
