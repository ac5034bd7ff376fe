"""torch_fuser: fuses chains of elementwise ops in TorchScript graphs into single
compiled kernels (C++ on CPU, NVRTC on CUDA).

Importing the package loads the library and enables fusion (unless the environment
says TORCH_FUSER_ENABLE=0); every function scripted with ``torch.jit.script`` afterwards
runs its elementwise chains as fused kernels.
"""
import os as _os
import sys as _sys


def _import_torch():
    try:
        import torch
    except ImportError as e:
        raise ImportError("torch_fuser needs PyTorch, and `import torch` failed: %s" % e) from e
    if getattr(torch, "__file__", None) is None:
        # A folder named torch/ on sys.path (this repository's root has one) imports as an
        # empty namespace package when no PyTorch is installed.
        raise ImportError(
            "torch_fuser needs PyTorch, but `import torch` found no installation, only the "
            "folder(s) %s; install PyTorch for %s" % (list(torch.__path__), _sys.executable))
    return torch


def _release(version):
    return version.split("+")[0]


def _check_build(torch):
    try:
        from . import _build_info
    except ImportError:
        raise ImportError("torch_fuser is not built here (%s): run `make`, or install the wheel"
                          % _os.path.dirname(__file__)) from None
    built = (_release(_build_info.TORCH_VERSION), _build_info.TORCH_CXX11_ABI,
             _build_info.TORCH_CUDA)
    found = (_release(torch.__version__), bool(torch._C._GLIBCXX_USE_CXX11_ABI), torch.version.cuda)
    if built != found:
        describe = "torch %s (C++11 ABI %s, CUDA %s)"
        raise ImportError(
            ("torch_fuser was built against " + describe + " but this process has " + describe
             + " (%s); a C++ extension only loads into the torch it was built for: rebuild "
             "torch_fuser against this torch (`make`, or `pip install --no-build-isolation .`)")
            % (built + found + (_os.path.dirname(torch.__file__),)))
    return _build_info.VERSION


torch = _import_torch()  # loads libtorch before our library
__version__ = _check_build(torch)

from . import _C  # noqa: E402

__all__ = [
    "enable",
    "disable",
    "is_enabled",
    "set_min_group_size",
    "min_group_size",
    "fuse_graph",
    "kernel_source",
    "explain",
    "stats",
    "clear_cache",
    "set_background_compilation",
    "is_background_compilation",
    "wait_for_compilations",
]


def enable(cpu=True, cuda=True):
    """Fuse on the given devices; switches PyTorch's own fusers off meanwhile."""
    _C.enable(cpu=cpu, cuda=cuda)


def disable():
    """Stop fusing and restore PyTorch's own fuser settings."""
    _C.disable()


def is_enabled():
    return _C.is_enabled()


def set_min_group_size(size, device=None):
    """The smallest fusion group kept, in ops, on ``device`` ("cpu", "cuda"; None: both).
    Functions optimized afterwards follow it; 1 gives lone elementwise ops (a ``tanh``, a
    ``to(dtype)``) kernels of their own. Default: $TORCH_FUSER_MIN_GROUP_SIZE, else the
    measured defaults in the README."""
    _C.set_min_group_size(int(size), None if device is None else str(device))


def min_group_size(device="cpu"):
    return _C.min_group_size(str(device))


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


class Explanation:
    """What :func:`explain` found. ``str()`` gives the readable report.

    ``nodes``: one dict per node of each graph the pass ran on (``graph``, ``op``,
    ``location``, ``type``, ``fused``, ``group``, ``reason`` when not fused);
    ``groups``: one dict per fusion group (``kernel_name``, ``ops``, ``kernels`` compiled,
    ``launches``, ``fallbacks`` as {reason: count}); ``notes``; ``optimized_graph``.
    """

    def __init__(self, found):
        self.nodes = found["nodes"]
        self.groups = found["groups"]
        self.notes = found["notes"]
        self.optimized_graph = found["optimized_graph"]
        self._report = found["report"]

    def unfused(self):
        """The nodes left to eager, each with its reason."""
        return [node for node in self.nodes if not node["fused"]]

    def __str__(self):
        return self._report

    def __repr__(self):
        return "<torch_fuser.Explanation: %d groups, %d nodes left to eager>" % (
            len(self.groups), len(self.unfused()))


def explain(fn, *inputs, runs=3):
    """Why each node of ``fn`` was fused or not, on ``inputs``.

    ``fn`` (a function, scripted or not, or a scripted module) is compiled afresh and run
    ``runs`` times under the current grad mode, so the profiling executor optimizes it and
    the pass runs again; the reasons are the pass's and the executor's own. Returns an
    :class:`Explanation`; ``print()`` it for the report.
    """
    if isinstance(fn, torch.jit.ScriptModule):
        found = _C._explain_module(fn._c, inputs, runs)
    else:
        if not isinstance(fn, torch.jit.ScriptFunction):
            fn = torch.jit.script(fn)
        found = _C._explain_graph(fn.graph, inputs, runs)
    return Explanation(found)


def stats():
    """Counters: kernels_compiled, memory_cache_hits, disk_cache_hits, fallbacks,
    compile_seconds, fusion_groups_registered; cache sizes fusions_cached, kernels_cached
    and evictions fusions_evicted, kernels_evicted; compiles_pending, the kernels queued or
    compiling in the background now; graphs_captured and graph_replays, the CUDA graphs of
    host-bound loops (kernels a replay runs are not in kernel_launches)."""
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


def set_background_compilation(on):
    """Compile kernels on background threads (the default; TORCH_FUSER_SYNC_COMPILE=1
    turns it off): a call whose kernel is not compiled yet runs the fused ops in the
    interpreter instead of waiting, and calls run the kernel once it is ready. Off: the
    first call compiles and waits."""
    _C.set_background_compilation(bool(on))


def is_background_compilation():
    return _C.is_background_compilation()


def wait_for_compilations():
    """Block until every kernel compile queued so far has finished (e.g. after a warm-up,
    before timing)."""
    _C.wait_for_compilations()


# TORCH_FUSER_ENABLE=0 keeps fusion off without changing code (=1 enabled it already when
# the library loaded).
if _C.enable_request() is not False:
    enable()
