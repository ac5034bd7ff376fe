"""Python-level tests of torch_fuser: the API of DESIGN.md and torch.jit.script in both
graph executors. Run: PYTHONPATH=$PWD python3 -m pytest -q test/test_jit_fuser.py"""
import contextlib
import copy
import itertools
import types
from typing import List
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import unittest
import unittest.mock

import torch

# A kernel disk cache of the tests' own, so counters do not depend on earlier runs.
os.environ.setdefault("TORCH_FUSER_CACHE_DIR", tempfile.mkdtemp(prefix="torch_fuser_pytest_"))
# Calls compile their kernels before running them (TestBackgroundCompilation turns
# background compilation on where it tests it).
os.environ.setdefault("TORCH_FUSER_SYNC_COMPILE", "1")

import torch_fuser  # noqa: E402

# Where the torch_fuser under test comes from (the repository, or an installed wheel):
# subprocesses import the same one.
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(torch_fuser.__file__)))


def chain(x, y, z):
    return torch.sigmoid(x * y + z).tanh() * 0.5 + x.relu()


def chain_unoptimized(x, y, z):
    # A separate function: torch.jit.script caches compiled functions per Python function.
    return torch.sigmoid(x * y + z).tanh() * 0.5 + x.relu()


def bias_relu(x, b):
    return (x + b).relu() * 2.0


def two_outputs(x, y):
    a = x * y
    return a.sigmoid(), a.tanh() - 1.0


def with_scalar(x, alpha: float):
    return (x * alpha).exp() - alpha


def lstm_cell(x, w, cx):
    gates = x.mm(w)
    i, f, g, o = gates.chunk(4, 1)
    i = torch.sigmoid(i)
    f = torch.sigmoid(f)
    g = torch.tanh(g)
    o = torch.sigmoid(o)
    cy = f * cx + i * g
    hy = o * torch.tanh(cy)
    return hy, cy


def lstm_cell_with_biases(x, h, cx, w_ih, w_hh, b_ih, b_hh):
    gates = x.mm(w_ih) + h.mm(w_hh) + b_ih + b_hh
    i, f, g, o = gates.chunk(4, 1)
    cy = torch.sigmoid(f) * cx + torch.sigmoid(i) * torch.tanh(g)
    hy = torch.sigmoid(o) * torch.tanh(cy)
    return hy, cy


def cat_of_activations(x, y):
    a = x * y + 1.0
    return torch.cat([a.sigmoid(), a.tanh(), (a * 2.0).relu()], 0)


def cat_inner_dims(x, y):
    a = x * y + 1.0
    return torch.cat([a.sigmoid(), y.tanh(), x], 1), torch.cat([a.relu(), a * 2.0], -1)


def rotary_pairs(x, y):
    # Stacked along a new last dim: the pieces interleave element by element.
    return torch.stack([x.cos() * y, x.sin() * y], -1)


def shifts(x, n):
    return (x << n) ^ (x >> n) ^ (x << 3)


def reduced_precision(out):
    outs = out if isinstance(out, tuple) else (out,)
    return any(o.dtype in (torch.half, torch.bfloat16) for o in outs)


def rounded_once(fn, args, like):
    """fn computed in float32 and rounded once to the dtypes of `like` (what a fused
    kernel computes for 16-bit inputs)."""
    want = fn(*[a.float() if a.is_floating_point() else a for a in args])
    if isinstance(like, tuple):
        return tuple(w.to(o.dtype) for w, o in zip(want, like))
    return want.to(like.dtype)


def fusion_groups(graph):
    # Groups guarded from profiles sit in the first block of a prim::If.
    return graph.findAllNodes("fuser::FusionGroup", True)


@contextlib.contextmanager
def legacy_executor():
    old_executor = torch._C._jit_set_profiling_executor(False)
    old_mode = torch._C._get_graph_executor_optimize()
    try:
        yield
    finally:
        torch._C._jit_set_profiling_executor(old_executor)
        torch._C._set_graph_executor_optimize(old_mode)


def run_threads(work, count):
    """Runs work(i) for i in range(count), each on its own thread, and waits for all."""
    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def run_warm(fn, *args, calls=3):
    out = None
    for _ in range(calls):
        out = fn(*args)
    return out


class TestAPI(unittest.TestCase):
    def test_import_enables_fusion(self):
        self.assertTrue(torch_fuser.is_enabled())

    def test_enable_switches_pytorch_fusers_off_and_disable_restores_them(self):
        torch_fuser.disable()
        torch._C._jit_set_texpr_fuser_enabled(True)
        torch._C._jit_override_can_fuse_on_cpu(True)
        try:
            torch_fuser.enable()
            self.assertFalse(torch._C._jit_texpr_fuser_enabled())
            self.assertFalse(torch._C._jit_can_fuse_on_cpu())
            torch_fuser.disable()
            self.assertFalse(torch_fuser.is_enabled())
            self.assertTrue(torch._C._jit_texpr_fuser_enabled())
            self.assertTrue(torch._C._jit_can_fuse_on_cpu())
        finally:
            torch._C._jit_override_can_fuse_on_cpu(False)
            torch_fuser.enable()

    def test_fuse_graph_rewrites_a_graph_in_place(self):
        graph = torch.jit.script(chain).graph.copy()
        self.assertEqual(len(fusion_groups(graph)), 0)
        torch_fuser.fuse_graph(graph)
        self.assertEqual(len(fusion_groups(graph)), 1)

    def test_stats_has_the_documented_counters(self):
        s = torch_fuser.stats()
        for key in ("kernels_compiled", "memory_cache_hits", "disk_cache_hits", "fallbacks",
                    "compile_seconds", "graphs_captured", "graph_replays"):
            self.assertIn(key, s)

    def test_kernel_source_returns_the_generated_kernel(self):
        x = torch.randn(8, 8)
        sources = torch_fuser.kernel_source(chain, x, x, x)
        self.assertEqual(len(sources), 1)
        self.assertIn('extern "C" void tf_kernel', sources[0])
        self.assertIn("tf_sigmoid", sources[0])

    def test_clear_cache_drops_kernels_from_memory(self):
        fn = torch.jit.script(bias_relu)
        x, b = torch.randn(4, 5), torch.randn(5)
        run_warm(fn, x, b)
        before = torch_fuser.stats()
        torch_fuser.clear_cache()
        torch.testing.assert_close(fn(x, b), bias_relu(x, b))
        after = torch_fuser.stats()
        # Reloaded from the disk cache, not recompiled.
        self.assertEqual(after["disk_cache_hits"], before["disk_cache_hits"] + 1)
        self.assertEqual(after["kernels_compiled"], before["kernels_compiled"])


class TestScript(unittest.TestCase):
    def check_fused(self, fn, *args, groups=1):
        scripted = torch.jit.script(fn)
        run_warm(scripted, *args)
        fallbacks = torch_fuser.stats()["fallbacks"]
        out = scripted(*args)
        self.assertEqual(torch_fuser.stats()["fallbacks"], fallbacks, "a fusion fell back")
        graph = torch.jit.last_executed_optimized_graph()
        self.assertEqual(len(fusion_groups(graph)), groups, str(graph))
        expected = fn(*args)
        if isinstance(out, tuple):
            for a, e in zip(out, expected):
                torch.testing.assert_close(a, e)
        else:
            torch.testing.assert_close(out, expected)
        return scripted

    def test_chain_is_one_kernel_and_new_sizes_do_not_recompile(self):
        x, y, z = (torch.randn(1024, 1024) for _ in range(3))
        scripted = self.check_fused(chain, x, y, z)
        compiled = torch_fuser.stats()["kernels_compiled"]
        a, b, c = (torch.randn(2048, 512) for _ in range(3))
        torch.testing.assert_close(scripted(a, b, c), chain(a, b, c), atol=1e-5, rtol=1e-5)
        self.assertEqual(torch_fuser.stats()["kernels_compiled"], compiled)

    def test_max_and_min_of_two_tensors_fuse_as_maximum_and_minimum(self):
        def fn(x, y):
            return torch.max(x, y) * 2.0 + torch.min(x, y.relu())

        x, y = torch.randn(33, 17), torch.randn(17)
        scripted = self.check_fused(fn, x, y)
        graph = torch.jit.last_executed_optimized_graph()
        for kind in ("aten::max", "aten::min"):  # inside the group only
            self.assertEqual(graph.findAllNodes(kind, True), [], str(graph))
        x[0, 0], y[3] = float("nan"), float("nan")  # NaN propagates, as in eager
        torch.testing.assert_close(scripted(x, y), fn(x, y), equal_nan=True)

        def ints(a, b):
            return torch.max(a, b) - torch.min(a, b) * 3

        self.check_fused(ints, torch.randint(-9, 9, (8, 5), dtype=torch.int32),
                         torch.randint(-9, 9, (5,), dtype=torch.int32))

    def test_profiling_executor(self):
        self.check_fused(bias_relu, torch.randn(16, 8), torch.randn(8))
        self.check_fused(two_outputs, torch.randn(3, 4), torch.randn(3, 4))
        self.check_fused(with_scalar, torch.randn(10), 0.5)

    def test_patterns_nnc_fuses_are_one_group_with_nothing_left_outside(self):
        # From PyTorch's own fuser tests: a cat of inputs at the head of a chain, a chunk
        # of a computed value whose pieces combine, a view of an input between ops.
        def cat_of_inputs(x, y, z):
            return torch.cat([x, y, z]).log()

        def cat_type_as(x, y):
            return torch.cat([x, y.type_as(x)], 1).relu()

        def chunk_combine(x):
            z = x * x
            a, b = z.chunk(2, 0)
            return a * b

        def unsqueezed(b, d):
            return (b * d.unsqueeze(1)).relu() + 1.0

        def viewed(x, y):
            return (x.view(-1, 4) * y).relu()

        def reshaped(x, y):
            return x.reshape([8, 4]).sigmoid() + y

        cases = [(viewed, (torch.randn(2, 4, 4), torch.randn(8, 4))),
                 (reshaped, (torch.randn(2, 4, 4), torch.randn(8, 4))),
                 (cat_of_inputs, (torch.rand(4, 5), torch.rand(4, 5), torch.rand(4, 5))),
                 (cat_type_as, (torch.randn(4, 5), torch.randn(4, 5, dtype=torch.double))),
                 (chunk_combine, (torch.randn(6, 5),)),
                 (unsqueezed, (torch.randn(4, 3), torch.randn(4)))]
        for fn, args in cases:
            with self.subTest(fn=fn.__name__), torch.no_grad():
                self.check_fused(fn, *args)
                graph = torch.jit.last_executed_optimized_graph()
                outside = [n.kind() for n in graph.nodes() if n.kind().startswith("aten::")]
                self.assertEqual(outside, [], str(graph))
        # A reshape that must copy (a transposed input) runs eager's ops instead.
        x, y = torch.randn(4, 4, 2).transpose(0, 2), torch.randn(8, 4)
        scripted = torch.jit.script(reshaped)
        with torch.no_grad():
            run_warm(scripted, torch.randn(2, 4, 4), y)
            torch.testing.assert_close(scripted(x, y), reshaped(x, y))

    def test_autocast_casts_fuse_with_their_neighbours(self):
        # What scripted code under torch.autocast runs around ops (NNC fuses these).
        def down(x):
            return torch.sigmoid(x)._autocast_to_reduced_precision(True, True, torch.half,
                                                                  torch.bfloat16) * 2

        def up(x):
            return torch.exp(x._autocast_to_full_precision(True, True)) + 1

        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        for device in devices:
            reduced = torch.half if device == "cuda" else torch.bfloat16
            cases = [(down, torch.rand(8, 9, device=device)),  # float32 -> reduced
                     (down, torch.rand(8, 9, device=device, dtype=torch.double)),  # stays
                     (up, torch.rand(8, 9, device=device).to(reduced)),  # -> float32
                     (up, torch.rand(8, 9, device=device))]  # stays
            for fn, x in cases:
                with self.subTest(fn=fn.__name__, device=device, dtype=x.dtype), torch.no_grad():
                    scripted = self.check_fused(fn, x)
                    graph = torch.jit.last_executed_optimized_graph()
                    outside = [n.kind() for n in graph.nodes() if n.kind().startswith("aten::")]
                    self.assertEqual(outside, [], str(graph))
                    self.assertEqual(scripted(x).dtype, fn(x).dtype)

    def test_optimized_graphs_keep_no_profile_nodes(self):
        # The profiling executor drops its prim::profile nodes itself only where NNC runs
        # (switched off while torch_fuser is enabled); left in an optimized graph, each
        # costs an interpreter step on every call (the scripted LSTM loop's training step
        # ran 1.8x slower with them).
        def mm_then_chain(x, w, b):
            h = torch.mm(x, w)
            return (h + b).sigmoid() * h.tanh(), torch.mm(h, w.t())

        x = torch.randn(8, 16, requires_grad=True)
        w, b = torch.randn(16, 16, requires_grad=True), torch.randn(16)
        fn = torch.jit.script(mm_then_chain)
        for grad in (False, True):
            with self.subTest(grad=grad), torch.set_grad_enabled(grad):
                for _ in range(4):
                    out = fn(x, w, b)
                    if grad:
                        (out[0].sum() + out[1].sum()).backward()
                # With grad, the last executed graph is the backward's.
                graph = str(torch.jit.last_executed_optimized_graph())
                self.assertNotIn("prim::profile", graph)
                self.assertIn("fuser::FusionGroup", graph)

    def test_siblings_reading_one_input_share_one_kernel(self):
        # Horizontal fusion: neither NNC nor the legacy fuser merges these.
        def siblings(x):
            return x.sigmoid(), x.tanh()

        def profiled_siblings(x, y):
            return (x * y).relu(), x.exp()

        x, y = torch.randn(32, 16), torch.randn(32, 16)
        with torch.no_grad():
            self.check_fused(siblings, x)
            scripted = self.check_fused(profiled_siblings, x, y)
            # Shapes unlike the profiled ones: one output no longer spans the space; the
            # call falls back (or re-specializes) with eager's results.
            for a, b in ((torch.randn(4, 1), torch.randn(4, 5)), (torch.randn(4, 5), torch.randn(3, 4, 5))):
                for got, want in zip(scripted(a, b), profiled_siblings(a, b)):
                    torch.testing.assert_close(got, want)

    def test_inference_batch_norm_fuses_with_the_relu_after_it(self):
        # training=False: running statistics, an elementwise op (a frozen model's batch
        # norms not folded into a convolution look like this too).
        def bn_relu(x, mean, var, weight, bias):
            return torch.nn.functional.batch_norm(x, mean, var, weight, bias, False, 0.1, 1e-5).relu()

        scripted = torch.jit.script(bn_relu)
        stats = [torch.randn(8), torch.rand(8) + 0.5, torch.randn(8), torch.randn(8)]
        for fmt in (torch.contiguous_format, torch.channels_last):
            with self.subTest(memory_format=fmt), torch.no_grad():
                x = torch.randn(2, 8, 12, 10).contiguous(memory_format=fmt)
                for _ in range(3):
                    scripted(x, *stats)
                before = kernel_runs()
                out = scripted(x, *stats)
                self.assertGreater(kernel_runs(), before, "no fused kernel ran")
                want = bn_relu(x, *stats)
                torch.testing.assert_close(out, want, rtol=1e-5, atol=1e-5)
                self.assertEqual(out.stride(), want.stride())
                kinds = [n.kind() for n in torch.jit.last_executed_optimized_graph().nodes()]
                self.assertNotIn("aten::batch_norm", kinds)
                self.assertNotIn("aten::relu", kinds)

    def test_lstm_cell_chunks_inside_one_kernel(self):
        args = (torch.randn(8, 32), torch.randn(32, 64), torch.randn(8, 16))
        for executor in (contextlib.nullcontext, legacy_executor):
            with executor():
                self.check_fused(lstm_cell, *args)
                group = fusion_groups(torch.jit.last_executed_optimized_graph())[0]
                self.assertIn("prim::ConstantChunk", str(group.g("Subgraph")))

    def test_lstm_cell_gate_sum_and_chunk_are_one_kernel(self):
        # The chunk of the computed gates is pushed through the sum: one kernel reads
        # views of both matmul outputs and the biases.
        args = (torch.randn(8, 16), torch.randn(8, 32), torch.randn(8, 32), torch.randn(16, 128),
                torch.randn(32, 128), torch.randn(128), torch.randn(128))
        for executor in (contextlib.nullcontext, legacy_executor):
            with executor():
                self.check_fused(fresh_script_fn(lstm_cell_with_biases), *args)
                graph = torch.jit.last_executed_optimized_graph()
                kinds = [n.kind() for n in graph.nodes()]
                self.assertNotIn("aten::chunk", kinds)
                self.assertNotIn("prim::ConstantChunk", kinds)

    def test_concatenations_along_inner_dims_join_one_kernel(self):
        # Pieces computed from different inputs, and an input itself, written as strided
        # slices of the results by the kernel computing the others.
        args = (torch.randn(6, 10), torch.randn(10, 6).t())
        for executor in (contextlib.nullcontext, legacy_executor):
            with executor():
                self.check_fused(fresh_script_fn(cat_inner_dims), *args)
                graph = torch.jit.last_executed_optimized_graph()
                self.assertNotIn("aten::cat", [n.kind() for n in graph.nodes()])
                # x is read once, also where a profile records it as a piece.
                self.assertEqual(len(list(fusion_groups(graph)[0].inputs())), 2, str(graph))

    def test_stack_along_a_new_last_dim_is_one_kernel(self):
        for executor in (contextlib.nullcontext, legacy_executor):
            with executor():
                self.check_fused(fresh_script_fn(rotary_pairs), torch.randn(6, 10), torch.randn(10))
                graph = torch.jit.last_executed_optimized_graph()
                self.assertNotIn("aten::stack", [n.kind() for n in graph.nodes()])

    def test_integer_shifts(self):
        x = torch.randint(-1000, 1000, (64, 3), dtype=torch.int32)
        self.check_fused(fresh_script_fn(shifts), x, torch.randint(0, 31, (64, 3), dtype=torch.int32))

    def test_legacy_executor(self):
        with legacy_executor():
            self.check_fused(chain, *(torch.randn(7, 9) for _ in range(3)))
            self.check_fused(bias_relu, torch.randn(16, 8), torch.randn(8))

    def test_graph_optimization_off_means_no_fusion(self):
        old = torch._C._get_graph_executor_optimize()
        torch._C._set_graph_executor_optimize(False)
        try:
            self.check_fused(chain_unoptimized, *(torch.randn(5, 5) for _ in range(3)), groups=0)
        finally:
            torch._C._set_graph_executor_optimize(old)

    def test_double_transposed_and_broadcast_inputs(self):
        x = torch.randn(6, 10, dtype=torch.double)
        self.check_fused(chain, x.t(), torch.randn(10, 1, dtype=torch.double),
                         torch.randn(6, dtype=torch.double))

    def test_non_broadcastable_shapes_raise_eagers_error(self):
        scripted = torch.jit.script(chain)
        run_warm(scripted, *(torch.randn(3) for _ in range(3)))
        with self.assertRaisesRegex(RuntimeError, "must match the size"):
            scripted(torch.randn(3), torch.randn(4), torch.randn(3))

    def test_eight_threads_share_one_function(self):
        scripted = torch.jit.script(chain)
        run_warm(scripted, *(torch.randn(8, 8) for _ in range(3)))
        errors = []

        def work(seed):
            gen = torch.Generator().manual_seed(seed)
            for i in range(20):
                args = [torch.randn(1 + i, 33, generator=gen) for _ in range(3)]
                if not torch.allclose(scripted(*args), chain(*args), atol=1e-6):
                    errors.append(seed)

        run_threads(work, 8)
        self.assertEqual(errors, [])



def fresh_script_fn(fn):
    """A new function object with `fn`'s code (torch.jit.script caches per object)."""
    return types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__,
                              fn.__closure__)


def fresh_script(fn):
    """torch.jit.script of a new copy of `fn`: scripted functions (and their executors'
    specializations) are cached per Python function object."""
    return torch.jit.script(fresh_script_fn(fn))


def all_fusion_groups(block):
    """Fusion groups in `block` and every nested block (if / loop bodies)."""
    found = []
    for node in block.nodes():
        if node.kind() == "fuser::FusionGroup":
            found.append(node)
        for sub in node.blocks():
            found.extend(all_fusion_groups(sub))
        if node.hasAttribute("Subgraph") and node.kind() != "fuser::FusionGroup":
            found.extend(all_fusion_groups(node.g("Subgraph")))
    return found


def kernel_runs():
    """Compiled-kernel launches so far (each is a cache hit or a compile)."""
    s = torch_fuser.stats()
    return s["memory_cache_hits"] + s["kernels_compiled"] + s["disk_cache_hits"]


def bias_gelu(x, w, b):
    h = x.mm(w) + b
    return h * 0.5 * (1.0 + torch.tanh(0.7978845608 * (h + 0.044715 * h * h * h)))


def lstm_tail(gates, cx):
    i, f, g, o = gates.chunk(4, 1)
    cy = torch.sigmoid(f) * cx + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(cy), cy


def bias_branch(x, y, b):
    a = x * y + b
    return a.sigmoid() * x + a.tanh()


def bias_twice(x, b):
    return (x + b).sigmoid() * (x - b).tanh()


def grad_sum_to_size_nodes(block, inside=False):
    """For each aten::_grad_sum_to_size in `block` (nested blocks and subgraphs too):
    whether it sits inside a fusion group."""
    found = []
    for node in block.nodes():
        if node.kind() == "aten::_grad_sum_to_size":
            found.append(inside)
        for sub in node.blocks():
            found.extend(grad_sum_to_size_nodes(sub, inside))
        if node.hasAttribute("Subgraph"):
            found.extend(grad_sum_to_size_nodes(
                node.g("Subgraph"), inside or node.kind() == "fuser::FusionGroup"))
    return found


class SmallNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(16, 32)
        self.fc2 = torch.nn.Linear(32, 1)
        self.scale = torch.nn.Parameter(torch.ones(32))

    def forward(self, x):
        h = self.fc1(x)
        h = torch.sigmoid(h) * h * self.scale + 0.1 * h.relu()
        return self.fc2(h)


def lstm_loop(xs, h, c, w_ih, w_hh, b_ih, b_hh):
    outs = []
    for t in range(xs.size(0)):
        gates = xs[t].mm(w_ih.t()) + h.mm(w_hh.t()) + b_ih + b_hh
        i, f, g, o = gates.chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        outs.append(h)
    return torch.stack(outs), c


class SqueezeExcite(torch.nn.Module):
    """A mobilenet_v3-style block as torchvision writes it: conv, batch norm, hardswish in
    place, a pooled hardsigmoid scale, a residual added in place."""

    def __init__(self, channels):
        super().__init__()
        self.conv = torch.nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn = torch.nn.BatchNorm2d(channels)
        self.act = torch.nn.Hardswish(inplace=True)
        self.fc = torch.nn.Conv2d(channels, channels, 1)

    def forward(self, x):
        y = self.act(self.bn(self.conv(x)))
        scale = torch.nn.functional.hardsigmoid(self.fc(torch.nn.functional.adaptive_avg_pool2d(y, 1)))
        out = scale * y
        out += x
        return out


def fresh_net():
    """A SmallNet of a class of its own: scripted modules of one class share their
    methods' graph executors, so a test's calls do not re-specialize another test's."""
    class Net(SmallNet):
        pass

    return Net()


def loop_and_branch(x, y, n: int, flag: bool):
    for _ in range(n):
        x = torch.sigmoid(x * y + 1.0) * 2.0 - x.relu()
    if flag:
        z = (x * 3.0).tanh() + y
    else:
        z = (x - y).abs() * 0.5
    return z


class TestAutograd(unittest.TestCase):
    def test_forward_and_backward_graphs_run_fused_kernels(self):
        # A function of its own: a scripted function first specialized for inputs without
        # grad takes a few more calls to re-specialize for inputs with grad.
        def chain(x, y, z):
            return torch.sigmoid(x * y + z).tanh() * 0.5 + x.relu()

        scripted = torch.jit.script(chain)
        args = [torch.randn(6, 7, requires_grad=True) for _ in range(3)]
        for _ in range(4):
            scripted(*args).sum().backward()
        fallbacks = torch_fuser.stats()["fallbacks"]
        before = kernel_runs()
        out = scripted(*args)
        forward = kernel_runs() - before
        grads = torch.autograd.grad(out.sum(), args)
        backward = kernel_runs() - before - forward
        self.assertGreaterEqual(forward, 1, "the forward graph ran no fused kernel")
        self.assertGreaterEqual(backward, 1, "the backward graph ran no fused kernel")
        self.assertEqual(torch_fuser.stats()["fallbacks"], fallbacks)
        eager_args = [a.detach().requires_grad_() for a in args]
        expected = torch.autograd.grad(chain(*eager_args).sum(), eager_args)
        for got, want in zip(grads, expected):
            torch.testing.assert_close(got, want)

    def test_backward_of_dropout_and_gelu_runs_in_one_kernel(self):
        # A transformer MLP's backward: the incoming gradient through dropout's mask and
        # scale (native_dropout_backward) and gelu's derivative (gelu_backward), in both its
        # forms, fused; gradients as eager's. p=0 keeps every element, so eager's dropout
        # draws nothing the scripted one would have to match.
        def mlp_block(x, w, b):
            h = torch.nn.functional.gelu(x.mm(w) + b)
            t = torch.nn.functional.gelu(x.mm(w) - b, approximate="tanh")
            return x + torch.nn.functional.dropout(h * t, p=0.0, training=True)

        scripted = fresh_script(mlp_block)
        args = [torch.randn(8, 16, requires_grad=True), torch.randn(16, 16, requires_grad=True),
                torch.randn(16, requires_grad=True)]
        for _ in range(4):
            scripted(*args).sum().backward()
        out = scripted(*args)
        before = kernel_runs()
        grads = torch.autograd.grad(out.pow(2).sum(), args)
        self.assertGreaterEqual(kernel_runs() - before, 1, "the backward graph ran no fused kernel")
        backward = torch.jit.last_executed_optimized_graph()
        fused = [n.kind() for g in all_fusion_groups(backward.block())
                 for n in g.g("Subgraph").nodes()]
        for kind in ("aten::native_dropout_backward", "aten::gelu_backward"):
            self.assertIn(kind, fused, str(backward))
            self.assertNotIn(kind, [n.kind() for n in backward.nodes()], str(backward))
        eager_args = [a.detach().requires_grad_() for a in args]
        expected = torch.autograd.grad(mlp_block(*eager_args).pow(2).sum(), eager_args)
        for got, want in zip(grads, expected):
            # Through a matmul's backward the float32 sums reach ~30: a few ulps of that.
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)

    def test_gradcheck_in_float64_with_broadcasting_and_chunks(self):
        cases = [
            (chain, [torch.randn(3, 4, dtype=torch.double) for _ in range(3)]),
            (bias_relu, [torch.randn(3, 4, dtype=torch.double), torch.randn(4, dtype=torch.double)]),
            (bias_gelu, [torch.randn(3, 5, dtype=torch.double), torch.randn(5, 4, dtype=torch.double),
                         torch.randn(4, dtype=torch.double)]),
            (lstm_tail, [torch.randn(2, 8, dtype=torch.double), torch.randn(2, 2, dtype=torch.double)]),
        ]
        for fn, inputs in cases:
            with self.subTest(fn=fn.__name__):
                scripted = fresh_script(fn)
                args = [t.requires_grad_() for t in inputs]
                before = kernel_runs()
                # TorchScript's autodiff of chunk returns a short gradient when one
                # output's gradient is undefined (torch 1.13, with or without torch_fuser),
                # so gradcheck's undefined-gradient probe is left out there.
                self.assertTrue(torch.autograd.gradcheck(
                    scripted, args, check_undefined_grad=fn is not lstm_tail))
                self.assertGreater(kernel_runs(), before, "gradcheck ran no fused kernel")

    def test_broadcast_gradient_is_reduced_by_the_backward_group(self):
        # b is broadcast over the rows: autodiff reduces its gradient with
        # _grad_sum_to_size, which the backward fusion group takes in (its kernel computes
        # the gradient, the reduction follows it), in both executors, without fallbacks.
        # In bias_twice both reductions of b's gradient are summed afterwards: they stay at
        # the group's outputs (read inside it, every call would fall back).
        cases = ((bias_branch, ((4, 7), (4, 7), (7,))), (bias_twice, ((4, 7), (7,))))
        for (fn, shapes), legacy in itertools.product(cases, (False, True)):
            with self.subTest(fn=fn.__name__, legacy=legacy), (
                    legacy_executor() if legacy else contextlib.nullcontext()):
                scripted = fresh_script(fn)
                args = [torch.randn(*shape, requires_grad=True) for shape in shapes]
                for _ in range(4):
                    scripted(*args).sum().backward()
                fallbacks = torch_fuser.stats()["fallbacks"]
                before = kernel_runs()
                grads = torch.autograd.grad(scripted(*args).sum(), args)
                self.assertGreaterEqual(kernel_runs() - before, 2)
                self.assertEqual(torch_fuser.stats()["fallbacks"], fallbacks)
                sums = grad_sum_to_size_nodes(torch.jit.last_executed_optimized_graph())
                self.assertTrue(sums and all(sums), "a _grad_sum_to_size is outside the groups")
                eager_args = [a.detach().requires_grad_() for a in args]
                expected = torch.autograd.grad(fn(*eager_args).sum(), eager_args)
                for got, want in zip(grads, expected):
                    torch.testing.assert_close(got, want)

    def test_lstm_cell_with_grad_is_one_forward_group(self):
        # Autodiff reads the sizes of the gate sums; computed from the inputs' sizes, the
        # sums stay inside and the chunk moves in: one forward group, as without grad.
        args = [torch.randn(4, 16), torch.randn(4, 32), torch.randn(4, 32)] + [
            torch.randn(*s, requires_grad=True) for s in ((16, 128), (32, 128), (128,), (128,))]
        report = torch_fuser.explain(lstm_cell_with_biases, *args)
        self.assertEqual(len(report.groups), 1, str(report))
        scripted = fresh_script(lstm_cell_with_biases)
        for _ in range(4):
            hy, cy = scripted(*args)
            (hy.sum() + cy.pow(2).sum()).backward()
        before = kernel_runs()
        fallbacks = torch_fuser.stats()["fallbacks"]
        hy, cy = scripted(*args)
        grads = torch.autograd.grad(hy.sum() + cy.pow(2).sum(), args[3:])
        self.assertGreaterEqual(kernel_runs() - before, 2)
        self.assertEqual(torch_fuser.stats()["fallbacks"], fallbacks)
        eager_args = args[:3] + [a.detach().requires_grad_() for a in args[3:]]
        e_hy, e_cy = lstm_cell_with_biases(*eager_args)
        expected = torch.autograd.grad(e_hy.sum() + e_cy.pow(2).sum(), eager_args[3:])
        for got, want in zip(grads, expected):
            torch.testing.assert_close(got, want)

    def test_milstm_cell_with_grad_is_one_forward_group(self):
        # Autodiff keeps products of the gates (alpha * Wx, Wx * Uz, ...) for the backward:
        # the chunk of the gates still moves into their group, which writes those results
        # whole as joins of their pieces. Gradients as eager's.
        args = [torch.randn(4, 16), torch.randn(4, 32), torch.randn(4, 32)] + [
            torch.randn(*s, requires_grad=True)
            for s in ((128, 16), (128, 32), (128,), (128,), (128,), (128,))]
        report = torch_fuser.explain(milstm_cell, *args)
        self.assertEqual(len(report.groups), 1, str(report))
        scripted = fresh_script(milstm_cell)
        for _ in range(4):
            hy, cy = scripted(*args)
            (hy.sum() + cy.pow(2).sum()).backward()
        fallbacks = torch_fuser.stats()["fallbacks"]
        hy, cy = scripted(*args)
        grads = torch.autograd.grad(hy.sum() + cy.pow(2).sum(), args[3:])
        self.assertEqual(torch_fuser.stats()["fallbacks"], fallbacks)
        eager_args = args[:3] + [a.detach().requires_grad_() for a in args[3:]]
        e_hy, e_cy = milstm_cell(*eager_args)
        torch.testing.assert_close(hy, e_hy)
        expected = torch.autograd.grad(e_hy.sum() + e_cy.pow(2).sum(), eager_args[3:])
        for got, want in zip(grads, expected):
            # Sums over the batch in another order: an element that nearly cancels is
            # judged against the gradient's scale, not its own.
            scale = want.abs().max().item()
            torch.testing.assert_close(got, want, rtol=1.3e-6, atol=1e-5 * max(scale, 1.0))

    def test_rnn_loop_training_batches_its_matmuls_as_under_nnc(self):
        # The executor unrolls the loop 8 times; BatchMM then sums each weight's gradient
        # over the unrolled steps in one matmul and projects the steps' inputs in one
        # (what it does under NNC). Gradients as eager's; TORCH_FUSER_BATCH_MM=0 keeps the
        # per-step matmuls.
        torch.manual_seed(0)
        seq, hidden = 16, 8
        args = [torch.randn(seq, 2, 4), torch.randn(2, hidden), torch.randn(2, hidden)] + [
            torch.randn(*s, requires_grad=True)
            for s in ((4 * hidden, 4), (4 * hidden, hidden), (4 * hidden,), (4 * hidden,))]

        def step(fn):
            hs, c = fn(*args)
            return torch.autograd.grad(hs.pow(2).sum() + c.sum(), args[3:])

        def matmuls_per_step(fn):
            with torch.profiler.profile() as prof:
                grads = step(fn)
            return sum(e.name == "aten::mm" for e in prof.events()), grads

        counts = {}
        for batch in ("1", "0"):
            with unittest.mock.patch.dict(os.environ, {"TORCH_FUSER_BATCH_MM": batch}):
                scripted = fresh_script(lstm_loop)
                for _ in range(4):
                    step(scripted)
                counts[batch], grads = matmuls_per_step(scripted)
            expected = step(lstm_loop)
            for got, want in zip(grads, expected):
                torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
        # Unbatched: 2 forward and 3 backward matmuls per time step.
        self.assertGreaterEqual(counts["0"], 5 * seq - 1, counts)  # no gradient for h0
        self.assertLess(counts["1"], 3 * seq, counts)

    def test_training_loop_matches_eager(self):
        torch.manual_seed(0)
        eager = SmallNet()
        scripted = torch.jit.script(copy.deepcopy(eager))
        opt_e = torch.optim.SGD(eager.parameters(), lr=0.05)
        opt_s = torch.optim.SGD(scripted.parameters(), lr=0.05)
        before = kernel_runs()
        for step in range(8):
            x, target = torch.randn(32, 16), torch.randn(32, 1)
            losses = []
            for model, opt in ((eager, opt_e), (scripted, opt_s)):
                opt.zero_grad()
                loss = ((model(x) - target) ** 2).mean()
                loss.backward()
                opt.step()
                losses.append(loss.item())
            self.assertAlmostEqual(losses[0], losses[1], places=5, msg="step %d" % step)
        self.assertGreater(kernel_runs(), before, "training ran no fused kernel")
        for (name, p_e), p_s in zip(eager.named_parameters(), scripted.parameters()):
            torch.testing.assert_close(p_s, p_e, rtol=1e-5, atol=1e-6, msg=name)


class TestExecutors(unittest.TestCase):
    def check(self, scripted, fn, *args, groups_at_least=1):
        run_warm(scripted, *args)
        out = scripted(*args)
        expected = fn(*args)
        torch.testing.assert_close(out, expected)
        graph = torch.jit.last_executed_optimized_graph()
        self.assertGreaterEqual(len(all_fusion_groups(graph)), groups_at_least, str(graph))

    def test_every_bailout_depth(self):
        old = torch.jit.set_fusion_strategy([("STATIC", 20)])
        try:
            for strategy in ([("STATIC", 0)], [("STATIC", 1)], [("DYNAMIC", 2)], [("STATIC", 20)]):
                with self.subTest(strategy=strategy):
                    torch.jit.set_fusion_strategy(strategy)
                    scripted = fresh_script(chain)
                    # Depth 0: the executor never optimizes, so nothing fuses; results
                    # must still be right.
                    groups = 0 if strategy[0][1] == 0 else 1
                    for shape in ((4, 5), (6, 5), (3, 2, 5)):
                        args = [torch.randn(*shape) for _ in range(3)]
                        self.check(scripted, chain, *args, groups_at_least=groups)
        finally:
            torch.jit.set_fusion_strategy(old)

    def test_with_nnc_switched_back_on(self):
        old = torch._C._jit_texpr_fuser_enabled()
        torch._C._jit_set_texpr_fuser_enabled(True)
        try:
            scripted = torch.jit.script(bias_relu)
            args = (torch.randn(8, 4), torch.randn(4))
            run_warm(scripted, *args)
            torch.testing.assert_close(scripted(*args), bias_relu(*args))
        finally:
            torch._C._jit_set_texpr_fuser_enabled(old)

    def test_control_flow_fuses_inside_blocks_only(self):
        x, y = torch.randn(5, 6), torch.randn(6)
        for executor in (contextlib.nullcontext, legacy_executor):
            for flag in (True, False):
                with executor(), self.subTest(executor=executor.__name__, flag=flag):
                    scripted = torch.jit.script(loop_and_branch)
                    self.check(scripted, loop_and_branch, x, y, 3, flag, groups_at_least=2)
                    graph = torch.jit.last_executed_optimized_graph()
                    for group in all_fusion_groups(graph):
                        kinds = {n.kind() for n in group.g("Subgraph").nodes()}
                        self.assertFalse(kinds & {"prim::If", "prim::Loop"}, str(group))

    def test_scripted_module_traced_function_and_frozen_module(self):
        torch.manual_seed(0)
        net = fresh_net().eval()
        x = torch.randn(8, 16)
        with torch.no_grad():
            expected = net(x)
            scripted = torch.jit.script(net)
            self.check(scripted, net, x)
            traced = torch.jit.trace(bias_gelu, (x, torch.randn(16, 4), torch.randn(4)))
            self.check(traced, bias_gelu, x, torch.randn(16, 4), torch.randn(4))
            # Frozen from a net of another class (its own executor) with the same weights.
            twin = fresh_net().eval()
            twin.load_state_dict(net.state_dict())
            frozen = torch.jit.freeze(torch.jit.script(twin))
            run_warm(frozen, x)
            graph = torch.jit.last_executed_optimized_graph()
            self.assertGreaterEqual(len(all_fusion_groups(graph)), 1, str(graph))
            torch.testing.assert_close(frozen(x), expected)

    def test_size_of_a_fused_result_is_taken_when_it_is_computed(self):
        # Autodiff and user code read sizes of fused results; the pass computes them from
        # the group's inputs, as they were when the group ran: an in-place reshape of an
        # input afterwards does not change them.
        scripted = fresh_script(size_after_in_place_reshape)
        for _ in range(4):
            z, s = scripted(torch.randn(3, 4), torch.randn(3, 4))
            self.assertEqual(s, [3, 4])
            self.assertEqual(list(z.shape), [3, 4])
        self.assertTrue(fusion_groups(torch.jit.last_executed_optimized_graph()))

    def test_sizes_of_fused_results_are_eagers(self):
        # Sizes of fused results computed from the group's inputs, around chunks (pieces
        # after a rank change, a short last piece, pieces of two chunks) and in-place ops.
        cases = [
            (size_after_reshaping_the_result, [((3, 4), (3, 4))]),
            (size_of_chunk_pieces, [((2, 6), (2, 6))] * 4 + [((2, 6, 5), (2, 6, 5)), ((3, 9), (9,))]),
            # 5 cut into 4 gives 3 pieces: the interpreter raises, fused or not.
            (size_of_a_short_last_piece, [((2, 8), (2, 8))] * 4 + [((2, 5), (2, 5))]),
            (size_of_pieces_of_two_chunks, [((4, 4), (4, 2))] * 4 + [((4, 4), (4, 4))]),
        ]
        for fn, shapes in cases:
            with self.subTest(fn=fn.__name__):
                scripted = fresh_script(fn)
                torch_fuser.disable()
                try:
                    unfused = fresh_script(fn)
                finally:
                    torch_fuser.enable()
                for x_shape, y_shape in shapes:
                    args = (torch.randn(*x_shape), torch.randn(*y_shape))
                    torch_fuser.disable()
                    try:
                        want = unfused(*[a.clone() for a in args])
                    except RuntimeError:
                        want = None
                    finally:
                        torch_fuser.enable()
                    if want is None:
                        with self.assertRaises(RuntimeError):
                            scripted(*args)
                        continue
                    got = scripted(*args)
                    self.assertEqual(list(got[1]), list(want[1]), (x_shape, y_shape))
                    self.assertEqual(list(got[0].shape), list(want[0].shape))
                    torch.testing.assert_close(got[0], want[0])


def mm_block(x, w):
    y = x.mm(w)
    return torch.sigmoid(y) * torch.tanh(y) + torch.relu(y)


def kernel_runs():
    """Kernel launches so far: every launch looks its kernel up (or compiles it)."""
    s = torch_fuser.stats()
    return s["memory_cache_hits"] + s["kernels_compiled"] + s["disk_cache_hits"]


@contextlib.contextmanager
def fusion_strategy(strategy):
    old = torch.jit.set_fusion_strategy(strategy)
    try:
        yield
    finally:
        torch.jit.set_fusion_strategy(old)


def size_after_in_place_reshape(x, y):
    z = (x * y).sigmoid()
    x.unsqueeze_(0)
    s: List[int] = z.size()
    return z, s


def size_after_reshaping_the_result(x, y):
    z = (x * y).sigmoid()
    z.unsqueeze_(0)
    s: List[int] = z.size()
    return z, s


def size_of_chunk_pieces(x, y):
    a, b, c = (x * y).chunk(3, 1)
    r = a.sigmoid() * b + c
    s: List[int] = r.size()
    return r, s


def size_of_a_short_last_piece(x, y):
    p0, p1, p2, p3 = (x * y).chunk(4, -1)
    r = p2.tanh()
    s: List[int] = r.size()
    return r, s


def size_of_pieces_of_two_chunks(x, y):
    a, a2 = x.chunk(2, -1)
    b, b2 = y.chunk(2, -1)
    r = a.sigmoid() * b + a2 * b2
    s: List[int] = r.size()
    return r, s


class TestRespecialization(unittest.TestCase):
    """A function whose situation changes (grad mode, dtype, rank, layout) runs fused
    kernels again once the executor has re-specialized it, and never falls back for good."""

    def phase(self, calls, warm=4):
        """Runs calls() `warm` times (profiling, re-optimizing), then 4 times more; returns
        the kernel launches and fallbacks of those last 4."""
        for _ in range(warm):
            calls()
        runs, fallbacks = kernel_runs(), torch_fuser.stats()["fallbacks"]
        for _ in range(4):
            calls()
        return kernel_runs() - runs, torch_fuser.stats()["fallbacks"] - fallbacks

    def train_step(self, scripted, x, w):
        w.grad = None
        scripted(x, w).sum().backward()
        twin = w.detach().clone().requires_grad_()
        mm_block(x, twin).sum().backward()
        torch.testing.assert_close(w.grad, twin.grad)

    def infer(self, scripted, x, w):
        with torch.no_grad():
            torch.testing.assert_close(scripted(x, w), mm_block(x, w))

    def test_inference_training_and_back_run_kernels_in_both_executors(self):
        x, w = torch.randn(16, 8), torch.randn(8, 8, requires_grad=True)
        for executor in (contextlib.nullcontext, legacy_executor):
            with executor(), self.subTest(executor=executor.__name__):
                scripted = fresh_script(mm_block)
                for name, calls in (("inference", lambda: self.infer(scripted, x, w)),
                                    ("training", lambda: self.train_step(scripted, x, w)),
                                    ("inference again", lambda: self.infer(scripted, x, w)),
                                    ("training again", lambda: self.train_step(scripted, x, w))):
                    runs, fallbacks = self.phase(calls)
                    # Training runs the forward and the backward kernel.
                    self.assertGreaterEqual(runs, 4 if "inference" in name else 8, name)
                    self.assertEqual(fallbacks, 0, name)

    def test_the_group_is_guarded_and_its_fallback_is_a_function_of_the_executor(self):
        scripted = fresh_script(mm_block)
        x, w = torch.randn(16, 8), torch.randn(8, 8)
        with torch.no_grad():
            run_warm(scripted, x, w)
        graph = torch.jit.last_executed_optimized_graph()
        guards = graph.findAllNodes("fuser::TypeGuard", True)
        self.assertEqual(len(guards), 1, str(graph))
        self.assertIn("Float(*, *, requires_grad=0, device=cpu)", str(guards[0]))
        branch = guards[0].output().uses()[0].user
        self.assertEqual(branch.kind(), "prim::If")
        fused, fallback = branch.blocks()
        self.assertEqual([n.kind() for n in fused.nodes()], ["fuser::FusionGroup"])
        self.assertIn("prim::CallFunction", [n.kind() for n in fallback.nodes()])

    def test_dtype_rank_and_layout_switches_run_kernels(self):
        scripted = fresh_script(chain)
        square = [torch.randn(32, 32) for _ in range(3)]
        situations = [
            ("float32", square),
            ("float64", [t.double() for t in square]),
            ("rank 3", [t.reshape(4, 8, 32) for t in square]),
            ("transposed", [t.t() for t in square]),
            ("channels_last", [t.reshape(2, 8, 8, 8).to(memory_format=torch.channels_last)
                               for t in square]),
            ("float32 again", square),
        ]
        for name, args in situations:
            with self.subTest(situation=name), torch.no_grad():
                runs, fallbacks = self.phase(lambda: torch.testing.assert_close(
                    scripted(*args), chain(*args)))
                self.assertEqual(runs, 4)
                self.assertEqual(fallbacks, 0)

    @unittest.skipUnless(torch.cuda.is_available(), "no CUDA device")
    def test_cuda_after_warm_up_on_cpu_and_dtype_switches_run_kernels(self):
        scripted = fresh_script(chain)
        cpu = [torch.randn(64, 64) for _ in range(3)]
        situations = [
            ("cpu", cpu, 1e-5),
            ("cuda", [t.cuda() for t in cpu], 1e-5),
            ("cuda float16", [t.cuda().half() for t in cpu], 2e-3),
            ("cuda bfloat16", [t.cuda().bfloat16() for t in cpu], 2e-2),
            ("cuda channels_last", [t.cuda().reshape(1, 4, 32, 32).to(
                memory_format=torch.channels_last) for t in cpu], 1e-5),
            ("cpu again", cpu, 1e-5),
        ]
        for name, args, tol in situations:
            with self.subTest(situation=name), torch.no_grad():
                runs, fallbacks = self.phase(lambda: torch.testing.assert_close(
                    scripted(*args), chain(*args), atol=tol, rtol=tol))
                self.assertEqual(runs, 4)
                self.assertEqual(fallbacks, 0)

    @unittest.skipUnless(torch.cuda.is_available(), "no CUDA device")
    def test_cuda_inference_training_and_back_run_kernels(self):
        x = torch.randn(16, 8, device="cuda")
        w = torch.randn(8, 8, device="cuda", requires_grad=True)
        scripted = fresh_script(mm_block)
        for name, calls in (("inference", lambda: self.infer(scripted, x, w)),
                            ("training", lambda: self.train_step(scripted, x, w)),
                            ("inference again", lambda: self.infer(scripted, x, w))):
            runs, fallbacks = self.phase(calls)
            self.assertGreaterEqual(runs, 4 if "inference" in name else 8, name)
            self.assertEqual(fallbacks, 0, name)

    def test_strategies_bound_re_specialization_and_results_stay_right(self):
        x, w = torch.randn(16, 8), torch.randn(8, 8, requires_grad=True)
        # Depth 1: the fallback function of a failed guard is never optimized again.
        for strategy, kernels_after_switch in (([("STATIC", 1)], False), ([("STATIC", 2)], True),
                                               ([("DYNAMIC", 2)], True),
                                               ([("STATIC", 2), ("DYNAMIC", 10)], True)):
            with self.subTest(strategy=strategy), fusion_strategy(strategy):
                scripted = fresh_script(mm_block)
                runs, _ = self.phase(lambda: self.infer(scripted, x, w))
                self.assertEqual(runs, 4)
                runs, fallbacks = self.phase(lambda: self.train_step(scripted, x, w))
                self.assertEqual(runs > 0, kernels_after_switch, str(runs))
                self.assertEqual(fallbacks, 0)


class TestSwitches(unittest.TestCase):
    def test_a_disabled_device_gets_no_groups(self):
        torch_fuser.enable(cpu=False)
        try:
            scripted = fresh_script(chain)
            args = [torch.randn(8, 8) for _ in range(3)]
            run_warm(scripted, *args)
            torch.testing.assert_close(scripted(*args), chain(*args))
            graph = torch.jit.last_executed_optimized_graph()
            self.assertEqual(fusion_groups(graph), [], str(graph))
        finally:
            torch_fuser.enable()

    def test_disable_after_optimization_runs_no_kernel_and_stays_right(self):
        scripted = fresh_script(chain)
        args = [torch.randn(8, 8) for _ in range(3)]
        run_warm(scripted, *args)
        torch_fuser.disable()
        try:
            runs = kernel_runs()
            for _ in range(3):
                torch.testing.assert_close(scripted(*args), chain(*args))
            self.assertEqual(kernel_runs(), runs)
        finally:
            torch_fuser.enable()
        run_warm(scripted, *args)
        self.assertGreater(kernel_runs(), runs)


GATE_PERMUTATIONS = r"""
import itertools, sys, textwrap, torch, torch_fuser
torch.manual_seed(0)
choices = ["x.mm(w_ih.t())", "hx.mm(w_hh.t())", "b_ih", "b_hh"]
template = (
    "def cell(x, hx, cx, w_ih, w_hh, b_ih, b_hh):\n"
    "    gates = {} + {} + {} + {}\n"
    "    ingate, forgetgate, cellgate, outgate = gates.chunk(4, 1)\n"
    "    return ingate * forgetgate * cellgate * outgate\n")
inputs = [torch.randn(3, 10), torch.randn(3, 20), torch.randn(3, 20), torch.randn(80, 10),
          torch.randn(80, 20), torch.randn(80), torch.randn(80)]
for permutation in itertools.permutations(choices):
    cu = torch.jit.CompilationUnit(template.format(*permutation))
    for _ in range(3):
        cu.cell(*inputs)
    graph = torch.jit.last_executed_optimized_graph()
    groups = graph.findAllNodes("fuser::FusionGroup", True)
    print(len(groups), *[str(g.g("Subgraph")).replace("\n", " ") for g in groups], sep=" | ")
"""


class TestDeterminism(unittest.TestCase):
    def test_gate_sum_in_every_order_fuses_the_same_in_every_process(self):
        # PyTorch's own LSTM gate-permutation test: one group whatever the order of the
        # sum, and the same groups whatever the hash seed or address layout.
        outputs = set()
        for seed in ("0", "3", "4", "5", "random"):
            env = dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=PACKAGE_ROOT)
            run = subprocess.run([sys.executable, "-c", GATE_PERMUTATIONS], env=env,
                                 capture_output=True, text=True, timeout=600)
            self.assertEqual(run.returncode, 0, run.stderr)
            lines = run.stdout.splitlines()
            self.assertEqual(len(lines), 24)
            for line in lines:
                self.assertTrue(line.startswith("1 |"), line)
            outputs.add(run.stdout)
        self.assertEqual(len(outputs), 1, "processes fused differently")


class TestSavedModels(unittest.TestCase):
    LOAD_WITHOUT_FUSER = """
import sys, torch
m = torch.jit.load(sys.argv[1])
x, expected = torch.load(sys.argv[2])
for _ in range(3):
    out = m(x)
assert "torch_fuser" not in sys.modules
assert "fuser::" not in str(m.code) and "fuser::" not in str(m.graph)
torch.testing.assert_close(out, expected)
print("loaded ok")
"""

    def save_and_load_elsewhere(self, module, x):
        with tempfile.TemporaryDirectory() as tmp:
            run_warm(module, x)
            self.assertGreaterEqual(len(all_fusion_groups(torch.jit.last_executed_optimized_graph())), 1)
            expected = module(x)
            path, data = os.path.join(tmp, "m.pt"), os.path.join(tmp, "data.pt")
            torch.jit.save(module, path)
            torch.save((x, expected), data)
            self.assertNotIn("fuser::", str(module.code))
            script = os.path.join(tmp, "load.py")
            with open(script, "w") as f:
                f.write(self.LOAD_WITHOUT_FUSER)
            result = subprocess.run([sys.executable, script, path, data], capture_output=True,
                                    text=True, timeout=300, env=dict(os.environ, PYTHONPATH=""))
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertIn("loaded ok", result.stdout)
            # Loaded with torch_fuser enabled, it fuses again.
            loaded = torch.jit.load(path)
            run_warm(loaded, x)
            torch.testing.assert_close(loaded(x), expected)
            self.assertGreaterEqual(len(all_fusion_groups(torch.jit.last_executed_optimized_graph())), 1)

    def test_scripted_module_saves_without_fusion_groups(self):
        torch.manual_seed(0)
        with torch.no_grad():
            self.save_and_load_elsewhere(torch.jit.script(fresh_net()), torch.randn(4, 16))

    def test_frozen_module_saves_without_fusion_groups(self):
        torch.manual_seed(0)
        with torch.no_grad():
            frozen = torch.jit.freeze(torch.jit.script(fresh_net().eval()))
            self.save_and_load_elsewhere(frozen, torch.randn(4, 16))


def int_mix(x, y):
    return ((x * 3 + y) // 2) ^ (y & 7)


def double_bias(x, b):
    return torch.tanh(x - b) * 2.0 + b.exp()


class TestThreads(unittest.TestCase):
    def test_sixteen_threads_times_500_calls_over_several_functions(self):
        self.check_sixteen_threads()

    def test_sixteen_threads_while_kernels_compile_in_the_background(self):
        # Calls race the workers that publish kernels: every result must still be eager's.
        torch_fuser.clear_cache()
        torch_fuser.set_background_compilation(True)
        try:
            self.check_sixteen_threads()
        finally:
            torch_fuser.wait_for_compilations()
            torch_fuser.set_background_compilation(False)

    def check_sixteen_threads(self):
        functions = [
            (torch.jit.script(chain), chain, lambda g, n: [torch.randn(n, 9, generator=g) for _ in range(3)]),
            (torch.jit.script(double_bias), double_bias,
             lambda g, n: [torch.randn(n, 5, dtype=torch.double, generator=g),
                           torch.randn(5, dtype=torch.double, generator=g)]),
            (torch.jit.script(int_mix), int_mix,
             lambda g, n: [torch.randint(-50, 50, (n, 3), generator=g, dtype=torch.int32),
                           torch.randint(-50, 50, (3,), generator=g, dtype=torch.int32)]),
            (torch.jit.script(two_outputs), two_outputs,
             lambda g, n: [torch.randn(n, 4, generator=g).t(), torch.randn(4, n, generator=g)]),
        ]
        errors = []
        before = kernel_runs()

        def work(seed):
            gen = torch.Generator().manual_seed(seed)
            try:
                for i in range(500):
                    scripted, fn, make = functions[(seed + i) % len(functions)]
                    args = make(gen, 1 + (seed * 7 + i) % 17)
                    out, want = scripted(*args), fn(*args)
                    out = out if isinstance(out, tuple) else (out,)
                    want = want if isinstance(want, tuple) else (want,)
                    for o, w in zip(out, want):
                        torch.testing.assert_close(o, w, rtol=1e-5, atol=1e-6)
            except Exception as e:  # noqa: BLE001 - reported below with the seed
                errors.append((seed, repr(e)))

        run_threads(work, 16)
        self.assertEqual(errors, [])
        self.assertGreater(kernel_runs() - before, 16 * 500 // 2, "most calls must run kernels")


class TestCacheLimits(unittest.TestCase):
    def test_limits_bound_the_caches_and_graphs_keep_running(self):
        torch_fuser.set_cache_limits(max_fusions=2, max_kernels_per_fusion=1)
        try:
            fns = []
            for k in range(4):
                src = "def f%d(x, y):\n    return (x * y + %d.5).sigmoid() * 2.0\n" % (k, k)
                namespace = {"torch": torch}
                fns.append(torch.jit.CompilationUnit(src).find_function("f%d" % k))
            for rep in range(2):
                for k, fn in enumerate(fns):
                    for dtype in (torch.float32, torch.float64):
                        x, y = torch.randn(3, 4, dtype=dtype), torch.randn(4, dtype=dtype)
                        run_warm(fn, x, y)
                        torch.testing.assert_close(fn(x, y), ((x * y + k + 0.5).sigmoid() * 2.0))
            s = torch_fuser.stats()
            self.assertLessEqual(s["fusions_cached"], 2)
            self.assertLessEqual(s["kernels_cached"], 2)
            self.assertGreater(s["fusions_evicted"], 0)
            self.assertGreater(s["kernels_evicted"], 0)
            with self.assertRaises(ValueError):
                torch_fuser.set_cache_limits(max_fusions=0)
        finally:
            torch_fuser.set_cache_limits(max_fusions=4096, max_kernels_per_fusion=32)


CUDA = torch.cuda.is_available()


def cuda_chain(x, y, z):
    return torch.sigmoid(x * y + z).tanh() * 0.5 + x.relu()


def random_dropout(x, p: float):
    keep = torch.rand_like(x) > p
    return x * keep * (1.0 / (1.0 - p))


@unittest.skipUnless(CUDA, "needs a CUDA GPU")
class TestCUDA(unittest.TestCase):
    def setUp(self):
        self.fn = torch.jit.script(cuda_chain)

    def args(self, *shape, dtype=torch.float32, device="cuda"):
        return [torch.randn(*shape, dtype=dtype, device=device) for _ in range(3)]

    def check(self, args, atol=1e-5, rtol=1e-5):
        run_warm(self.fn, *args)
        fallbacks = torch_fuser.stats()["fallbacks"]
        out = self.fn(*args)
        self.assertEqual(torch_fuser.stats()["fallbacks"], fallbacks, "a fusion fell back")
        self.assertEqual(len(fusion_groups(torch.jit.last_executed_optimized_graph())), 1)
        torch.testing.assert_close(out, cuda_chain(*args), atol=atol, rtol=rtol)
        return out

    def test_rnn_loop_replays_a_cuda_graph_in_inference_and_matches_eager_in_training(self):
        # Inference: after warm-up each call replays one captured CUDA graph (fresh inputs
        # each call, weights read where they lie, updated in place once). Training: forward
        # and backward graphs may replay too; gradients as eager's.
        torch.manual_seed(0)
        scripted = fresh_script(lstm_loop)
        weights = [torch.randn(*s, device="cuda") * 0.3 for s in ((64, 8), (64, 16), (64,), (64,))]
        before = torch_fuser.stats()
        results = []
        with torch.no_grad():
            for call in range(12):
                if call == 8:
                    weights[0].mul_(0.5)
                args = [torch.randn(6, 4, 8, device="cuda"), torch.randn(4, 16, device="cuda"),
                        torch.randn(4, 16, device="cuda")] + weights
                out = scripted(*args)
                for got, want in zip(out, lstm_loop(*args)):
                    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
                results.append((out[0], out[0].clone()))
        after = torch_fuser.stats()
        self.assertGreaterEqual(after["graphs_captured"] - before["graphs_captured"], 1)
        self.assertGreaterEqual(after["graph_replays"] - before["graph_replays"], 4)
        for result, copy_then in results:
            torch.testing.assert_close(result, copy_then, rtol=0, atol=0)

        params = [w.clone().requires_grad_() for w in weights]
        for step in range(8):
            args = [torch.randn(6, 4, 8, device="cuda"), torch.randn(4, 16, device="cuda"),
                    torch.randn(4, 16, device="cuda")]
            grads = []
            for fn in (scripted, lstm_loop):
                hs, c = fn(*args, *params)
                grads.append(torch.autograd.grad(hs.pow(2).sum() + c.sum(), params))
            for got, want in zip(*grads):
                torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5, msg="step %d" % step)

    @unittest.skipUnless(hasattr(torch.backends.cuda, "preferred_blas_library"),
                         "torch before 2.4 has one BLAS backend")
    def test_switching_the_blas_library_captures_again(self):
        # The matrix products a capture baked in came from the backend preferred then: a call
        # preferring the other one gets a capture of its own, and replays it.
        torch.manual_seed(0)
        scripted = fresh_script(lstm_loop)
        weights = [torch.randn(*s, device="cuda") * 0.3 for s in ((64, 8), (64, 16), (64,), (64,))]
        preferred = torch.backends.cuda.preferred_blas_library()
        before = torch_fuser.stats()

        def calls(n):
            for _ in range(n):
                args = [torch.randn(6, 4, 8, device="cuda"), torch.randn(4, 16, device="cuda"),
                        torch.randn(4, 16, device="cuda")] + weights
                for got, want in zip(scripted(*args), lstm_loop(*args)):
                    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
            return torch_fuser.stats()

        try:
            with torch.no_grad():
                torch.backends.cuda.preferred_blas_library("cublas")
                settled = calls(10)
                self.assertGreaterEqual(settled["graphs_captured"] - before["graphs_captured"], 1)
                same = calls(3)
                self.assertEqual(same["graphs_captured"], settled["graphs_captured"])
                torch.backends.cuda.preferred_blas_library("cublaslt")
                switched = calls(10)
        finally:
            torch.backends.cuda.preferred_blas_library(preferred)
        self.assertGreater(switched["graphs_captured"], same["graphs_captured"])
        self.assertGreaterEqual(switched["graph_replays"] - same["graph_replays"], 4)

    def test_frozen_conv_net_replays_a_cuda_graph_and_matches_eager(self):
        # A frozen network (weights are tensor constants) captured whole: fresh inputs each
        # call, a second memory format (a second capture), cuDNN's TF32 switch flipped (a
        # third: the kernels cuDNN picks differ).
        torch.manual_seed(0)
        net = torch.nn.Sequential(*[SqueezeExcite(16) for _ in range(3)]).cuda().eval()
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
        frozen = torch.jit.freeze(torch.jit.script(net))
        tf32 = torch.backends.cudnn.allow_tf32
        before = torch_fuser.stats()
        results = []
        try:
            torch.backends.cudnn.allow_tf32 = False
            with torch.no_grad():
                for call in range(18):
                    fmt = torch.channels_last if 6 <= call < 12 else torch.contiguous_format
                    torch.backends.cudnn.allow_tf32 = call >= 12
                    x = torch.randn(4, 16, 12, 12, device="cuda").contiguous(memory_format=fmt)
                    out = frozen(x)
                    tol = 2e-2 if call >= 12 else 1e-4
                    torch.testing.assert_close(out, net(x), rtol=tol, atol=tol, msg="call %d" % call)
                    results.append((out, out.clone()))
                graph = torch.jit.last_executed_optimized_graph()
        finally:
            torch.backends.cudnn.allow_tf32 = tf32
        after = torch_fuser.stats()
        # The whole network is one captured graph: no convolution or in-place add is left
        # to the interpreter.
        top_level = [node.kind() for node in graph.nodes()]
        self.assertIn("fuser::CapturedGraph", top_level)
        self.assertNotIn("aten::conv2d", top_level)
        self.assertNotIn("aten::add_", top_level)
        # One capture per signature: contiguous, channels_last, cuDNN TF32 on.
        self.assertEqual(after["graphs_captured"] - before["graphs_captured"], 3)
        self.assertGreaterEqual(after["graph_replays"] - before["graph_replays"], 9)
        for result, copy_then in results:
            torch.testing.assert_close(result, copy_then, rtol=0, atol=0)

    def test_concat_chunk_and_integer_kernels(self):
        for fn, args in (
            (cat_of_activations, [torch.randn(37, 65, device="cuda") for _ in range(2)]),
            (cat_of_activations, [torch.randn(5, 3, dtype=torch.half, device="cuda") for _ in range(2)]),
            (lstm_cell_with_biases, [torch.randn(*s, device="cuda") for s in
                                     ((8, 16), (8, 32), (8, 32), (16, 128), (32, 128), (128,), (128,))]),
            (int_mix, [torch.randint(-50, 50, (300, 7), dtype=torch.int32, device="cuda"),
                       torch.randint(-50, 50, (7,), dtype=torch.int32, device="cuda")]),
            # Strided slices: rows of whole vectors, then odd rows and a transposed input.
            (cat_inner_dims, [torch.randn(37, 64, device="cuda") for _ in range(2)]),
            (cat_inner_dims, [torch.randn(37, 5, device="cuda"),
                              torch.randn(5, 37, device="cuda").t()]),
            (rotary_pairs, [torch.randn(33, 64, device="cuda"), torch.randn(64, device="cuda")]),
            # Every shift count, out of range ones included, as eager defines them.
            (shifts, [torch.randint(-2**31, 2**31 - 1, (4096,), dtype=torch.int32, device="cuda"),
                      torch.randint(-70, 70, (4096,), dtype=torch.int32, device="cuda")]),
            (shifts, [torch.randint(-128, 127, (999,), dtype=torch.int8, device="cuda"),
                      torch.randint(-20, 20, (999,), dtype=torch.int8, device="cuda")]),
        ):
            with self.subTest(fn=fn.__name__):
                scripted = fresh_script(fn)
                run_warm(scripted, *args)
                fallbacks = torch_fuser.stats()["fallbacks"]
                out, want = scripted(*args), fn(*args)
                if reduced_precision(out):
                    # The kernel computes in float and rounds once; eager rounds every op.
                    want = rounded_once(fn, args, out)
                self.assertEqual(torch_fuser.stats()["fallbacks"], fallbacks, "a fusion fell back")
                graph = torch.jit.last_executed_optimized_graph()
                self.assertEqual(len(fusion_groups(graph)), 1, str(graph))
                kinds = [n.kind() for n in graph.nodes()]
                self.assertNotIn("aten::cat", kinds)
                self.assertNotIn("aten::stack", kinds)
                self.assertNotIn("prim::ConstantChunk", kinds)
                torch.testing.assert_close(out, want)

    def test_float_and_reduced_precision(self):
        self.check(self.args(1024, 1024))
        self.check(self.args(333, 77, dtype=torch.bfloat16), atol=2e-2, rtol=2e-2)
        self.check(self.args(333, 77, dtype=torch.float16), atol=2e-3, rtol=2e-3)

    def test_non_default_stream(self):
        args = self.args(4096, 257)
        run_warm(self.fn, *args)
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            out = self.fn(*args)
            expected = cuda_chain(*args)
        torch.cuda.synchronize()
        torch.testing.assert_close(out, expected)

    def test_cuda_graph_capture_and_replay(self):
        args = self.args(1000, 33)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            run_warm(self.fn, *args)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            out = self.fn(*args)
        for _ in range(2):
            for a in args:
                a.copy_(torch.randn_like(a))
            graph.replay()
            torch.cuda.synchronize()
            torch.testing.assert_close(out, cuda_chain(*args))

    def test_cuda_graph_captures_while_kernels_compile_in_the_background(self):
        # Captures in global mode (torch.cuda.graph's default) while a worker may load the
        # finished module: the load must not invalidate a capture. Each captured graph
        # replays eager's results, whether it captured the fallback or the kernel.
        torch_fuser.clear_cache()
        torch_fuser.set_background_compilation(True)
        try:
            fn = torch.jit.script(fresh_script_fn(cuda_chain))
            args = self.args(512, 65)
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                run_warm(fn, *args)
            torch.cuda.current_stream().wait_stream(side)
            captures = 0
            while captures < 3 or (torch_fuser.stats()["compiles_pending"] and captures < 500):
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph):
                    out = fn(*args)
                for a in args:
                    a.copy_(torch.randn_like(a))
                graph.replay()
                torch.cuda.synchronize()
                torch.testing.assert_close(out, cuda_chain(*args))
                captures += 1
        finally:
            torch_fuser.wait_for_compilations()
            torch_fuser.set_background_compilation(False)

    @unittest.skipUnless(CUDA and torch.cuda.device_count() > 1, "needs two GPUs")
    def test_second_device(self):
        out = self.check(self.args(100, 100, device="cuda:1"))
        self.assertEqual(out.device, torch.device("cuda:1"))

    def test_rand_like_dropout_is_fused_seeded_and_fresh(self):
        fn = torch.jit.script(random_dropout)
        x = torch.ones(1 << 20, device="cuda")
        run_warm(fn, x, 0.25)
        groups = fusion_groups(torch.jit.last_executed_optimized_graph())
        self.assertEqual(len(groups), 1)
        self.assertIn("aten::rand_like", str(groups[0].g("Subgraph")))
        torch.manual_seed(7)
        a = fn(x, 0.25)
        b = fn(x, 0.25)
        torch.manual_seed(7)
        c = fn(x, 0.25)
        self.assertTrue(torch.equal(a, c))
        self.assertFalse(torch.equal(a, b))
        kept = (a != 0).float().mean().item()
        self.assertAlmostEqual(kept, 0.75, delta=0.005)
        self.assertAlmostEqual(a.mean().item(), 1.0, delta=0.01)

    def test_rand_like_of_another_input_fuses_and_repeats_along_its_broadcast(self):
        # From PyTorch's fuser tests (the legacy fuser fuses it).
        def rand_mul_add(x, y):
            r = torch.rand_like(y)
            return r * x + x

        def rand_broadcast(x, y):
            r = torch.rand_like(y)
            return r * x * x

        x, y = torch.randn(4, 4, device="cuda"), torch.randn(4, 4, device="cuda")
        fn = torch.jit.script(rand_mul_add)
        with torch.no_grad():
            run_warm(fn, x, y)
            graph = torch.jit.last_executed_optimized_graph()
            outside = [n.kind() for n in graph.nodes() if n.kind().startswith("aten::")]
            self.assertEqual(outside, [], str(torch_fuser.explain(rand_mul_add, x, y)))
        # Numbers are drawn per element of rand_like's own shape: broadcast along the rows
        # of x, every row is the same (such calls run eager's ops).
        x, y = torch.ones(4, 4, device="cuda"), torch.ones(4, device="cuda")
        fn = torch.jit.script(rand_broadcast)
        out = run_warm(fn, x, y)
        self.assertTrue(torch.equal(out, out[0].expand_as(out)), str(out))

    def test_cpu_scalar_tensor_with_gpu_tensors(self):
        x, _, z = self.args(64, 64)
        y = torch.tensor(1.5)
        torch.testing.assert_close(run_warm(self.fn, x, y, z), cuda_chain(x, y, z))


def run_script(code, **env):
    """Runs `code` in a fresh interpreter (from a real file: TorchScript reads sources)."""
    with tempfile.TemporaryDirectory() as tmp:
        # A fresh kernel cache unless the caller shares one on purpose.
        full_env = dict(os.environ, PYTHONPATH=PACKAGE_ROOT, TORCH_FUSER_CACHE_DIR=os.path.join(tmp, "cache"))
        full_env.update(env)
        path = os.path.join(tmp, "script.py")
        with open(path, "w") as f:
            f.write(textwrap.dedent(code))
        return subprocess.run([sys.executable, path], env=full_env, capture_output=True,
                              text=True, timeout=300)


FUSE_ONE = """
import torch, torch_fuser
def f(x, y):
    return (x * y).sigmoid() + 1.0
x = torch.randn(5)
print(torch_fuser.kernel_source(f, x, x) and 'ran')
print(torch_fuser.stats()['fallbacks'])
"""


def gated_compiler(directory, seconds=30):
    """A $CXX that holds each compile until the file `directory`/open exists (at most
    `seconds`), then runs the real compiler; returns (path, open_gate)."""
    script = os.path.join(directory, "c++")
    gate = os.path.join(directory, "open")
    with open(script, "w") as f:
        f.write("#!/bin/sh\ni=0\nwhile [ ! -e '%s' ] && [ $i -lt %d ]; do sleep 0.01; i=$((i+1)); done\n"
                "exec %s \"$@\"\n" % (gate, seconds * 100, os.environ.get("CXX", "c++")))
    os.chmod(script, 0o700)
    return script, lambda: open(gate, "w").close()


class TestBackgroundCompilation(unittest.TestCase):
    def setUp(self):
        torch_fuser.clear_cache()
        torch_fuser.set_background_compilation(True)

    def tearDown(self):
        torch_fuser.wait_for_compilations()
        torch_fuser.set_background_compilation(False)

    def test_calls_run_the_interpreter_until_the_kernel_is_ready(self):
        fn = torch.jit.script(fresh_script_fn(chain))
        args = [torch.randn(6, 7, dtype=torch.double) for _ in range(3)]
        with tempfile.TemporaryDirectory() as tmp:
            script, open_gate = gated_compiler(tmp)
            old_cxx = os.environ.get("CXX")
            os.environ["CXX"] = script
            try:
                before = torch_fuser.stats()
                for _ in range(5):  # profiling runs, then the optimized graph, compiler held
                    torch.testing.assert_close(fn(*args), chain(*args))
                held = torch_fuser.stats()
                self.assertEqual(held["kernel_launches"], before["kernel_launches"])
                self.assertEqual(held["compiles_pending"], 1)
                self.assertGreater(held["fallbacks"], before["fallbacks"])
                open_gate()
                torch_fuser.wait_for_compilations()
            finally:
                if old_cxx is None:
                    del os.environ["CXX"]
                else:
                    os.environ["CXX"] = old_cxx
        ready = torch_fuser.stats()
        self.assertEqual(ready["compiles_pending"], 0)
        self.assertEqual(ready["kernels_compiled"], held["kernels_compiled"] + 1)
        torch.testing.assert_close(fn(*args), chain(*args))
        after = torch_fuser.stats()
        self.assertEqual(after["kernel_launches"], ready["kernel_launches"] + 1)
        self.assertEqual(after["fallbacks"], ready["fallbacks"])

    def test_kernel_source_waits_for_the_compile(self):
        x = torch.randn(5)
        self.assertIn("tf_kernel", torch_fuser.kernel_source(chain_unoptimized, x, x, x)[0])

    def test_on_by_default_and_off_with_sync_compile(self):
        code = "import torch_fuser; print(torch_fuser.is_background_compilation())"
        self.assertEqual(run_script(code, TORCH_FUSER_SYNC_COMPILE="").stdout.split(), ["True"])
        self.assertEqual(run_script(code, TORCH_FUSER_SYNC_COMPILE="1").stdout.split(), ["False"])

    def test_exit_while_a_kernel_compiles_is_clean(self):
        # The process ends with the compiler held: the worker is waited for, nothing crashes.
        with tempfile.TemporaryDirectory() as tmp:
            script, _ = gated_compiler(tmp, seconds=2)
            code = FUSE_ONE.replace("print(torch_fuser.kernel_source(f, x, x) and 'ran')", """
s = torch.jit.script(f)
for _ in range(4):
    torch.testing.assert_close(s(x, x), f(x, x))
print(torch_fuser.stats()['compiles_pending'], 'pending')""")
            code = code.replace("import torch, torch_fuser", "import torch, torch_fuser\ntorch._C._jit_set_profiling_executor(True)")
            result = run_script(code, TORCH_FUSER_SYNC_COMPILE="0", CXX=script)
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertIn("1 pending", result.stdout)

    def test_forked_child_finishes_a_compile_queued_before_the_fork(self):
        with tempfile.TemporaryDirectory() as tmp:
            script, _ = gated_compiler(tmp)
            gate = os.path.join(tmp, "open")
            code = FUSE_ONE.replace("print(torch_fuser.kernel_source(f, x, x) and 'ran')", """
import os
s = torch.jit.script(f)
for _ in range(4):
    s(x, x)
assert torch_fuser.stats()['compiles_pending'] == 1
pid = os.fork()
if pid == 0:  # no worker here: the queued compile must run again in this process
    open(%r, 'w').close()
    s(x, x)  # still compiling; kicks a worker
    torch_fuser.wait_for_compilations()
    launches = torch_fuser.stats()['kernel_launches']
    torch.testing.assert_close(s(x, x), f(x, x))
    os._exit(0 if torch_fuser.stats()['kernel_launches'] == launches + 1 else 3)
_, status = os.waitpid(pid, 0)
print('child', os.waitstatus_to_exitcode(status))""" % gate)
            result = run_script(code, TORCH_FUSER_SYNC_COMPILE="0", CXX=script)
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertIn("child 0", result.stdout)


class TestEnvironment(unittest.TestCase):
    def test_debug_1_prints_kernel_source(self):
        result = run_script(FUSE_ONE, PYTORCH_FUSION_DEBUG="1")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("tf_kernel", result.stderr)

    def test_debug_2_prints_command_and_keeps_files(self):
        result = run_script(FUSE_ONE, PYTORCH_FUSION_DEBUG="2")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("compile:", result.stderr)
        kept = [line.split("files kept in ")[1].strip() for line in result.stderr.splitlines()
                if "files kept in" in line]
        self.assertTrue(kept)
        self.assertTrue(os.path.exists(os.path.join(kept[0], "kernel.cpp")))

    def test_second_process_compiles_nothing(self):
        # CPU shared objects and CUDA cubins alike persist in the disk cache.
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        for device in devices:
            with self.subTest(device=device), tempfile.TemporaryDirectory() as cache:
                code = FUSE_ONE.replace("torch.randn(5)", "torch.randn(5, device=%r)" % device)
                code += "print(torch_fuser.stats()['kernels_compiled'], torch_fuser.stats()['disk_cache_hits'])\n"
                first = run_script(code, TORCH_FUSER_CACHE_DIR=cache)
                second = run_script(code, TORCH_FUSER_CACHE_DIR=cache)
                self.assertEqual(first.returncode, 0, first.stderr)
                self.assertEqual(second.returncode, 0, second.stderr)
                compiled, hits = map(int, first.stdout.split()[-2:])
                self.assertGreater(compiled, 0)
                compiled, hits = map(int, second.stdout.split()[-2:])
                self.assertEqual(compiled, 0)
                self.assertGreater(hits, 0)
                suffix = ".so" if device == "cpu" else (".cubin", ".ptx")
                self.assertTrue(all(name.endswith(suffix) for name in os.listdir(cache)),
                                os.listdir(cache))

    def test_missing_compiler_falls_back_with_one_warning(self):
        code = FUSE_ONE.replace("print(torch_fuser.kernel_source(f, x, x) and 'ran')", """
s = torch.jit.script(f)
for _ in range(5):
    torch.testing.assert_close(s(x, x), f(x, x))
print('ok')""")
        result = run_script(code, CXX="/nonexistent/c++")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("ok", result.stdout)
        self.assertEqual(result.stderr.count("cannot run the C++ compiler"), 1, result.stderr)
        self.assertGreater(int(result.stdout.split()[-1]), 0)

    def test_enable_0_keeps_import_from_enabling(self):
        code = "import torch_fuser; print(torch_fuser.is_enabled())"
        self.assertEqual(run_script(code).stdout.split(), ["True"])
        off = run_script(code, TORCH_FUSER_ENABLE="0")
        self.assertEqual(off.stdout.split(), ["False"], off.stderr)

    def test_load_library_registers_the_pass(self):
        library = os.path.join(os.path.dirname(os.path.abspath(torch_fuser.__file__)), "libtorch_fuser.so")
        code = """
        import torch
        torch.ops.load_library(%r)
        @torch.jit.script
        def f(x, y):
            return (x * y).sigmoid() + 1.0
        x = torch.randn(64)
        with torch.no_grad():
            for _ in range(4):
                torch.testing.assert_close(f(x, x), (x * x).sigmoid() + 1.0)
        """ % library
        result = run_script(code, TORCH_FUSER_ENABLE="1", TORCH_FUSER_STATS_AT_EXIT="1",
                            PYTHONPATH="")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertRegex(result.stderr, r"kernel_launches=[1-9]")

    def test_stats_at_exit_counts_launches(self):
        result = run_script(FUSE_ONE, TORCH_FUSER_STATS_AT_EXIT="1")
        self.assertEqual(result.returncode, 0, result.stderr)
        line = [l for l in result.stderr.splitlines() if l.startswith("torch_fuser stats:")]
        self.assertEqual(len(line), 1, result.stderr)
        counters = dict(item.split("=") for item in line[0].split(":", 1)[1].split())
        self.assertGreater(int(counters["kernel_launches"]), 0)
        self.assertEqual(int(counters["fallbacks"]), 0)


def explained(x, y, w):
    h = torch.mm(x, w)
    a = h.sigmoid() * h.tanh() + y
    if bool(a.sum() > 0):
        d = a.relu()
    else:
        d = a.exp()
    return d, w.sin()


def milstm_cell(x, hx, cx, w_ih, w_hh, alpha, beta_i, beta_h, bias):
    Wx = x.mm(w_ih.t())
    Uz = hx.mm(w_hh.t())
    gates = alpha * Wx * Uz + beta_i * Wx + beta_h * Uz + bias
    ingate, forgetgate, cellgate, outgate = gates.chunk(4, 1)
    cy = forgetgate.sigmoid() * cx + ingate.sigmoid() * cellgate.tanh()
    return outgate.sigmoid() * cy.tanh(), cy


def chunk_beside_a_smaller_result(x, b):
    # w (shape of b) is a result of the group computing z: its pieces along dim 1 would be
    # smaller than z's, so the chunk of z stays outside.
    w = b.exp()
    z = (x * w).sigmoid()
    a, c = z.chunk(2, 1)
    return a * c, w


def chunk_also_returned(x, y):
    z = (x * y).sigmoid()
    a, b = z.chunk(2, 0)
    return torch.mm(a, b.t()), z


class TestExplain(unittest.TestCase):
    def test_chunk_of_a_value_also_read_whole_is_one_kernel(self):
        # z is chunked and read whole (by a matmul): each piece and z itself (as a join of
        # its pieces) are written by one kernel.
        x = torch.randn(8, 8)
        with torch.no_grad():
            e = torch_fuser.explain(chunk_also_returned, x, x)
            self.assertEqual(len(e.groups), 1, str(e))
            chunks = [n for n in e.unfused() if n["op"] in ("aten::chunk", "prim::ConstantChunk")]
            self.assertEqual(chunks, [], str(e))
            scripted = torch.jit.script(chunk_also_returned)
            for got, want in zip(run_warm(scripted, x, x), chunk_also_returned(x, x)):
                torch.testing.assert_close(got, want)

    def test_refused_chunk_push_has_its_reason(self):
        x, b = torch.randn(4, 8), torch.randn(8)
        with torch.no_grad():
            e = torch_fuser.explain(chunk_beside_a_smaller_result, x, b)
        chunks = [n for n in e.unfused() if n["op"] in ("aten::chunk", "prim::ConstantChunk")]
        self.assertEqual(len(chunks), 1, str(e))
        self.assertIn("smaller shape than its pieces", chunks[0]["reason"])

    def test_each_unfused_node_has_the_pass_reason(self):
        x, y, w = torch.randn(8, 8), torch.randn(8, 8), torch.randn(8, 8)
        with torch.no_grad():
            e = torch_fuser.explain(explained, x, y, w)
        self.assertEqual([g["kernel_name"] for g in e.groups], ["fused_sigmoid_tanh_mul_add"])
        group = e.groups[0]
        self.assertGreaterEqual(group["launches"], 1)
        self.assertEqual(group["fallbacks"], {})
        self.assertEqual(group["kernels"], ["cpu Float Float -> Float"])
        reasons = {n["op"]: n["reason"] for n in e.unfused()}
        self.assertIn("not in the op table", reasons["aten::mm"])
        self.assertIn("another block", reasons["aten::relu"])
        self.assertIn("another block", reasons["aten::exp"])
        self.assertIn("lone op", reasons["aten::sin"])
        fused = {n["op"] for n in e.nodes if n["fused"]}
        self.assertEqual(fused, {"aten::sigmoid", "aten::tanh", "aten::mul", "aten::add"})
        self.assertTrue(all(n["location"].startswith("test_jit_fuser.py:") for n in e.nodes))
        report = str(e)
        self.assertIn("group 0: fused_sigmoid_tanh_mul_add", report)
        self.assertIn("NOT fused: not in the op table", report)
        self.assertIn("fuser::FusionGroup", e.optimized_graph)

    def test_scripted_module(self):
        model = torch.jit.script(torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.GELU()))
        with torch.no_grad():
            e = torch_fuser.explain(model, torch.randn(4, 8))
        reasons = {n["op"]: n["reason"] for n in e.unfused()}
        self.assertIn("not in the op table", reasons["aten::linear"])
        self.assertIn("lone op", reasons["aten::gelu"])

    def test_disabled_fusion_is_a_note(self):
        torch_fuser.disable()
        try:
            e = torch_fuser.explain(explained, torch.randn(8, 8), torch.randn(8, 8), torch.randn(8, 8))
        finally:
            torch_fuser.enable()
        self.assertEqual(e.nodes, [])
        self.assertIn("fusion is disabled", e.notes[0])

    def test_run_time_fallbacks_are_counted_with_their_reason(self):
        code = """
        import torch, torch_fuser
        def f(x, y):
            return (x * y).sigmoid() + 1.0
        with torch.no_grad():
            e = torch_fuser.explain(f, torch.randn(8), torch.randn(8))
        print(sorted(e.groups[0]["fallbacks"].items()))
        """
        result = run_script(code, CXX="/nonexistent/c++")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("compiler", result.stdout)
        self.assertRegex(result.stdout, r", [1-9]\d*\)\]")



def profiled_names(fn, args, activities):
    with torch.profiler.profile(activities=activities) as prof:
        fn(*args)
    return [event.name for event in prof.events()]


class TestProfiler(unittest.TestCase):
    def test_each_launch_is_a_record_named_after_its_ops(self):
        fn = torch.jit.script(chain)
        x = torch.randn(64, 64)
        with torch.no_grad():
            run_warm(fn, x, x, x)
            names = profiled_names(fn, (x, x, x), [torch.profiler.ProfilerActivity.CPU])
            again = profiled_names(fn, (x, x, x), [torch.profiler.ProfilerActivity.CPU])
            explained = torch_fuser.explain(chain, x, x, x)
        expected = explained.groups[0]["kernel_name"]
        self.assertEqual(expected, "fused_mul_add_sigmoid_tanh_relu")
        self.assertEqual(names.count(expected), 1, names)
        self.assertEqual(again.count(expected), 1, again)

    @unittest.skipUnless(CUDA, "needs a CUDA GPU")
    def test_cuda_launch_is_a_record_too(self):
        fn = torch.jit.script(cuda_chain)
        x = torch.randn(64, 64, device="cuda")
        activities = [torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]
        with torch.no_grad():
            run_warm(fn, x, x, x)
            names = profiled_names(fn, (x, x, x), activities)
        self.assertTrue(any(name.startswith("fused_") for name in names), names)


def lone_tanh(x):
    return x.tanh()


class TestMinGroupSize(unittest.TestCase):
    def tearDown(self):
        torch_fuser.set_min_group_size(2)

    def test_lone_op_gets_a_kernel_at_size_one(self):
        self.assertEqual(torch_fuser.min_group_size("cpu"), 2)
        x = torch.randn(64, 64)
        with torch.no_grad():
            e = torch_fuser.explain(lone_tanh, x)
            self.assertEqual(e.groups, [])
            self.assertIn("minimum group size (2", e.unfused()[0]["reason"])
            torch_fuser.set_min_group_size(1, device="cpu")
            self.assertEqual(torch_fuser.min_group_size("cpu"), 1)
            self.assertEqual(torch_fuser.min_group_size("cuda"), 2)
            e = torch_fuser.explain(lone_tanh, x)
        self.assertEqual([g["kernel_name"] for g in e.groups], ["fused_tanh"])
        self.assertGreaterEqual(e.groups[0]["launches"], 1)
        torch.testing.assert_close(run_warm(torch.jit.script(lone_tanh), x), x.tanh())

    def test_lone_conversions_and_where_get_a_kernel_at_size_one(self):
        # From PyTorch's own fuser tests: x.to(its own device), x.to(dtype), where.
        def to_own_device(x):
            return x.to("cpu")

        def to_double(x):
            return x.to(torch.float64)

        def where(c, x, y):
            return torch.where(c, x, y)

        x, y = torch.randn(16, 8), torch.randn(16, 8)
        cases = [(to_own_device, (x,)), (to_double, (x,)), (where, (x > 0, x, y))]
        torch_fuser.set_min_group_size(1, device="cpu")
        for fn, args in cases:
            with self.subTest(fn=fn.__name__), torch.no_grad():
                scripted = torch.jit.script(fn)
                out = run_warm(scripted, *args)
                graph = torch.jit.last_executed_optimized_graph()
                self.assertEqual(len(fusion_groups(graph)), 1, str(graph))
                outside = [n.kind() for n in graph.nodes() if n.kind().startswith("aten::")]
                self.assertEqual(outside, [], str(graph))
                want = fn(*args)
                self.assertEqual(out.dtype, want.dtype)
                torch.testing.assert_close(out, want, rtol=0, atol=0)

    def test_bad_sizes_are_refused(self):
        with self.assertRaisesRegex(RuntimeError, "at least 1"):
            torch_fuser.set_min_group_size(0)
        with self.assertRaisesRegex(RuntimeError, "cpu or cuda"):
            torch_fuser.set_min_group_size(1, device="meta")

    def test_environment_sets_the_default(self):
        code = "import torch_fuser; print(torch_fuser.min_group_size('cpu'), torch_fuser.min_group_size('cuda'))"
        result = run_script(code, TORCH_FUSER_MIN_GROUP_SIZE="3")
        self.assertEqual(result.stdout.split(), ["3", "3"], result.stderr)
        result = run_script(code, TORCH_FUSER_MIN_GROUP_SIZE="zero")
        self.assertEqual(result.stdout.split(), ["2", "2"], result.stderr)
        self.assertIn("TORCH_FUSER_MIN_GROUP_SIZE must be a positive integer", result.stderr)


class TestInstallation(unittest.TestCase):
    """What `import torch_fuser` says where it cannot work."""

    def copy_package(self, tmp):
        target = os.path.join(tmp, "torch_fuser")
        shutil.copytree(os.path.dirname(os.path.abspath(torch_fuser.__file__)), target,
                        ignore=shutil.ignore_patterns("__pycache__"))
        return target

    def test_version_and_launch_counter(self):
        self.assertRegex(torch_fuser.__version__, r"^\d+\.\d+\.\d+$")
        before = torch_fuser.stats()["kernel_launches"]
        fn = torch.jit.script(chain)
        x = torch.randn(64)
        with torch.no_grad():
            for _ in range(4):
                fn(x, x, x)
        self.assertGreater(torch_fuser.stats()["kernel_launches"], before)

    def test_without_torch_says_torch_is_missing(self):
        with tempfile.TemporaryDirectory() as tmp:
            self.copy_package(tmp)
            # An empty torch/ folder beside it, as at this repository's root: without -S's
            # site-packages it is all `import torch` finds.
            os.mkdir(os.path.join(tmp, "torch"))
            result = subprocess.run([sys.executable, "-S", "-c", "import torch_fuser"], cwd=tmp,
                                    env=dict(os.environ, PYTHONPATH=""), capture_output=True,
                                    text=True, timeout=120)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("ImportError: torch_fuser needs PyTorch", result.stderr)

    def test_other_torch_build_is_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            package = self.copy_package(tmp)
            info = os.path.join(package, "_build_info.py")
            with open(info) as f:
                text = f.read()
            with open(info, "w") as f:
                f.write(text.replace("TORCH_VERSION = ", "TORCH_VERSION = '0.0.1' or "))
            result = subprocess.run([sys.executable, "-c", "import torch_fuser"], cwd=tmp,
                                    env=dict(os.environ, PYTHONPATH=tmp), capture_output=True,
                                    text=True, timeout=120)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("built against torch 0.0.1", result.stderr)
        self.assertIn("rebuild torch_fuser against this torch", result.stderr)


if __name__ == "__main__":
    unittest.main()
