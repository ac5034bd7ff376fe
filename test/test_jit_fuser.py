"""Python-level tests of torch_fuser: the API of DESIGN.md and torch.jit.script in both
graph executors. Run: PYTHONPATH=$PWD python3 -m pytest -q test/test_jit_fuser.py"""
import contextlib
import os
import subprocess
import sys
import tempfile
import textwrap
import threading
import unittest

import torch

# A kernel disk cache of the tests' own, so counters do not depend on earlier runs.
os.environ.setdefault("TORCH_FUSER_CACHE_DIR", tempfile.mkdtemp(prefix="torch_fuser_pytest_"))

import torch_fuser  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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


def fusion_groups(graph):
    return [n for n in graph.nodes() if n.kind() == "fuser::FusionGroup"]


@contextlib.contextmanager
def legacy_executor():
    old_executor = torch._C._jit_set_profiling_executor(False)
    old_mode = torch._C._get_graph_executor_optimize()
    try:
        yield
    finally:
        torch._C._jit_set_profiling_executor(old_executor)
        torch._C._set_graph_executor_optimize(old_mode)


def run_warm(fn, *args):
    out = None
    for _ in range(3):
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
                    "compile_seconds"):
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

    def test_profiling_executor(self):
        self.check_fused(bias_relu, torch.randn(16, 8), torch.randn(8))
        self.check_fused(two_outputs, torch.randn(3, 4), torch.randn(3, 4))
        self.check_fused(with_scalar, torch.randn(10), 0.5)

    def test_lstm_cell_chunks_inside_one_kernel(self):
        args = (torch.randn(8, 32), torch.randn(32, 64), torch.randn(8, 16))
        for executor in (contextlib.nullcontext, legacy_executor):
            with executor():
                self.check_fused(lstm_cell, *args)
                group = fusion_groups(torch.jit.last_executed_optimized_graph())[0]
                self.assertIn("prim::ConstantChunk", str(group.g("Subgraph")))

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

        threads = [threading.Thread(target=work, args=(s,)) for s in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])


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

    def test_cpu_scalar_tensor_with_gpu_tensors(self):
        x, _, z = self.args(64, 64)
        y = torch.tensor(1.5)
        torch.testing.assert_close(run_warm(self.fn, x, y, z), cuda_chain(x, y, z))


def run_script(code, **env):
    """Runs `code` in a fresh interpreter (from a real file: TorchScript reads sources)."""
    with tempfile.TemporaryDirectory() as tmp:
        # A fresh kernel cache unless the caller shares one on purpose.
        full_env = dict(os.environ, PYTHONPATH=REPO, TORCH_FUSER_CACHE_DIR=os.path.join(tmp, "cache"))
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
        with tempfile.TemporaryDirectory() as cache:
            code = FUSE_ONE + "print(torch_fuser.stats()['kernels_compiled'], torch_fuser.stats()['disk_cache_hits'])\n"
            first = run_script(code, TORCH_FUSER_CACHE_DIR=cache)
            second = run_script(code, TORCH_FUSER_CACHE_DIR=cache)
            self.assertEqual(first.returncode, 0, first.stderr)
            self.assertEqual(second.returncode, 0, second.stderr)
            compiled, hits = map(int, first.stdout.split()[-2:])
            self.assertGreater(compiled, 0)
            compiled, hits = map(int, second.stdout.split()[-2:])
            self.assertEqual(compiled, 0)
            self.assertGreater(hits, 0)

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


if __name__ == "__main__":
    unittest.main()
