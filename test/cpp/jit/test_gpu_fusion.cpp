// GPUFusion: the CPUFusion cases on CUDA plus what only GPUs have (half/bfloat16 vector
// paths, misaligned pointers, a second device). Skips cleanly where torch has no GPU.
#include "test/cpp/jit/random_graphs.h"
#include "test/cpp/jit/special_values.h"
#include "test/cpp/jit/test_utils.h"

#include "torch/csrc/jit/codegen/fuser/cuda/fused_kernel_cuda.h"

#include <ATen/Context.h>
#include <c10/core/GradMode.h>
#include <c10/core/InferenceMode.h>
#include <torch/csrc/jit/api/function_impl.h>

namespace torch_fuser {
namespace testing {
namespace {

class GPUFusion : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device (or a CPU-only torch)";
    std::string why;
    ASSERT_TRUE(cuda::available(&why)) << "a GPU is present but the CUDA backend is not: " << why;
  }

  static at::TensorOptions on(at::ScalarType dtype = at::kFloat, int device = 0) {
    return at::TensorOptions().dtype(dtype).device(at::Device(at::kCUDA, device));
  }
  static std::vector<IValue> randn3(at::IntArrayRef shape, at::ScalarType dtype = at::kFloat) {
    return {at::randn(shape, on(dtype)), at::randn(shape, on(dtype)), at::randn(shape, on(dtype))};
  }
  FusionGuard fusion_;
};

TEST_F(GPUFusion, EveryPairOfUnaryOpsMatchesEagerOnSpecialValues) {
  checkEveryUnaryPair(at::Device(at::kCUDA, 0));
}

TEST_F(GPUFusion, IntegerOverflowWrapsAsEagerInEveryLoop) {
  checkIntegerOverflowWraps(at::Device(at::kCUDA, 0));
}

TEST_F(GPUFusion, KeepsTheSignOfZeroThroughClampLikeOpsAsEager) {
  checkSignedZeroTies(at::Device(at::kCUDA, 0));
}

TEST_F(GPUFusion, NaNFailsComparisonsOfMagnitudes) {
  checkNaNFailsComparisonsOfMagnitudes(at::Device(at::kCUDA, 0));
}

TEST_F(GPUFusion, MultiplyThenAddRoundsTwiceAsInEager) {
  checkMultiplyThenAddRoundsTwice(on());
}

TEST_F(GPUFusion, AddsWithAlphaRoundingOnceAsEager) {
  checkAddWithAlphaRoundsOnce(on(), {at::kFloat, at::kDouble, at::kHalf, at::kBFloat16});
}

TEST_F(GPUFusion, ReloadsKernelsFromTheDiskCache) {
  checkReloadsKernelsFromTheDiskCache(on(), ".cubin");
}

// The first call that needs a kernel queues its NVRTC compile and runs the fallback (the
// check comes right after the submit, long before a compile could end); once compiled,
// calls run the kernel.
TEST_F(GPUFusion, RunsTheFallbackWhileTheKernelCompilesInTheBackground) {
  TempCacheDir cache;
  const bool was = isBackgroundCompilation();
  setBackgroundCompilation(true);
  auto graph = parseIR(kChainIR);
  fuseGraph(graph);
  const auto inputs = chainInputs({33, 5}, on());
  const at::Tensor expected = runGraph(parseIR(kChainIR), inputs)[0].toTensor();
  const Stats before = getStats();
  expectSameTensor(runGraph(graph, inputs)[0].toTensor(), expected);
  EXPECT_EQ(getStats().fallbacks, before.fallbacks + 1);
  waitForCompilations();
  EXPECT_EQ(getStats().kernels_compiled, before.kernels_compiled + 1);
  expectSameTensor(runGraph(graph, inputs)[0].toTensor(), expected);
  EXPECT_EQ(getStats().fallbacks, before.fallbacks + 1);
  EXPECT_EQ(getStats().kernel_launches, before.kernel_launches + 1);
  setBackgroundCompilation(was);
}

// Runs the kLstmLoopIR function on `inputs`, checks its first three results against the
// interpreter's on the unfused graph, and returns them all.
std::vector<IValue> runLoopAsTheInterpreter(torch::jit::GraphFunction& function,
                                            const std::shared_ptr<Graph>& reference,
                                            const std::vector<IValue>& inputs) {
  torch::jit::Stack stack(inputs.begin(), inputs.end());
  function.run(stack);
  const auto& tuple = stack[0].toTupleRef().elements();
  std::vector<IValue> actual(tuple.begin(), tuple.end());
  const auto expected = runGraph(reference, inputs)[0].toTuple()->elements();
  for (size_t i = 0; i < 3; ++i) {
    expectSameTensor(actual[i].toTensor(), expected[i].toTensor(), 1e-4, 1e-5);
  }
  return actual;
}

// A scripted RNN loop through the profiling executor: after the warm-up calls each call
// replays one CUDA graph (captured_graph.h). Results equal the interpreter's on the unfused
// graph with fresh inputs each call, a weight updated in place (read where it lies), a
// second sequence length (a second capture) and a weight at a new address (captured
// again); the view of a weight it returns stays one; no replay overwrites what an earlier
// call returned, nor does writing one result change another.
TEST_F(GPUFusion, ReplaysACapturedRnnLoopAsTheInterpreterComputesIt) {
  const std::string ir = lstmLoopIR("Tensor");
  auto reference = parseIR(ir);
  torch::jit::GraphFunction function("lstm_loop", parseIR(ir), nullptr);
  const std::vector<IValue> weights = lstmLoopInputs(1, on());
  at::Tensor w_ih = weights[3].toTensor();
  at::Tensor w_hh = weights[4].toTensor();
  const at::Tensor b = weights[5].toTensor();
  std::vector<std::pair<at::Tensor, at::Tensor>> held;  // a result, and a copy made then
  auto check = [&](int64_t seq) {
    std::vector<IValue> inputs = lstmLoopInputs(seq, on());
    inputs[3] = w_ih;
    inputs[4] = w_hh;
    inputs[5] = b;
    const auto actual = runLoopAsTheInterpreter(function, reference, inputs);
    const auto expected = runGraph(reference, inputs)[0].toTuple()->elements();
    EXPECT_EQ(actual[3].toTensor().data_ptr(), w_ih.data_ptr());
    // Results copied out of one replay are separate tensors: writing one leaves the rest.
    actual[1].toTensor().fill_(7);
    expectSameTensor(actual[0].toTensor(), expected[0].toTensor(), 1e-4, 1e-5);
    expectSameTensor(actual[2].toTensor(), expected[2].toTensor(), 1e-4, 1e-5);
    held.emplace_back(actual[0].toTensor(), actual[0].toTensor().clone());
  };
  const Stats before = getStats();
  for (int call = 0; call < 10; ++call) {
    if (call == 7) {
      c10::NoGradGuard no_grad;
      w_ih.mul_(0.5);
    }
    check(5);
  }
  const Stats first = getStats();
  EXPECT_GE(first.graphs_captured - before.graphs_captured, 1);
  EXPECT_GE(first.graph_replays - before.graph_replays, 3);
  for (int call = 0; call < 5; ++call) check(3);
  w_hh = w_hh.clone();
  for (int call = 0; call < 5; ++call) check(5);
  const Stats after = getStats();
  EXPECT_GE(after.graphs_captured - first.graphs_captured, 2);
  EXPECT_GE(after.graph_replays - first.graph_replays, 4);
  for (const auto& result : held) expectSameTensor(result.first, result.second, 0, 0);
}

// Replays stay right where a capture meets an empty batch (zero-size results), a cleared
// kernel cache (the graph keeps its kernels), and a capture made in inference mode
// replayed outside it.
TEST_F(GPUFusion, CapturedRnnLoopSurvivesEmptyBatchesClearedCachesAndModeSwitches) {
  const std::string ir = lstmLoopIR("Tensor");
  auto reference = parseIR(ir);
  torch::jit::GraphFunction function("lstm_loop_edges", parseIR(ir), nullptr);
  const std::vector<IValue> weights = lstmLoopInputs(1, on());
  auto check = [&](int64_t seq, int64_t batch) {
    std::vector<IValue> inputs = {at::randn({seq, batch, 8}, on()),
                                  at::randn({batch, 16}, on()),
                                  at::randn({batch, 16}, on()),
                                  weights[3],
                                  weights[4],
                                  weights[5]};
    runLoopAsTheInterpreter(function, reference, inputs);
  };
  const Stats before = getStats();
  for (int call = 0; call < 5; ++call) check(3, 0);
  for (int call = 0; call < 5; ++call) check(4, 4);
  clearCache();
  for (int call = 0; call < 3; ++call) check(4, 4);
  {
    c10::InferenceMode inference;
    for (int call = 0; call < 5; ++call) check(5, 2);
  }
  c10::NoGradGuard no_grad;
  for (int call = 0; call < 3; ++call) check(5, 2);
  EXPECT_GE(getStats().graph_replays - before.graph_replays, 8);
}

TEST_F(GPUFusion, SteppingOpsRoundSixteenBitOperandsAsEager) {
  checkSteppingOpsRoundSixteenBitOperands(on(), {at::kBFloat16, at::kHalf});
}

TEST_F(GPUFusion, DividesByANumberBitForBitAsEager) {
  checkDivisionByANumberIsEagersBitForBit(on(),
                                          {at::kFloat, at::kDouble, at::kBFloat16, at::kHalf});
}

TEST_F(GPUFusion, RunsElementwiseChainAsOneKernel) {
  auto fused = checkFusedMatchesEager(kChainIR, randn3({1024, 1024}));
  EXPECT_EQ(countGroups(*fused), 1u);
  checkFusedMatchesEager(kChainIR, randn3({3, 5, 7}, at::kDouble));
}

TEST_F(GPUFusion, BroadcastsAndReadsStridedInputs) {
  at::Tensor base = at::randn({64, 96}, on());
  checkFusedMatchesEager(kChainIR, {base, at::randn({96}, on()), at::randn({64, 1}, on())});
  checkFusedMatchesEager(kChainIR, {base.t(), at::randn({96, 64}, on()), at::randn({}, on())});
  checkFusedMatchesEager(kChainIR, {base.slice(1, 1, 96, 3), at::randn({1, 32}, on()),
                                    at::randn({64, 1}, on()).expand({64, 32})});
  // Row-broadcast kernels: rows a multiple of the vector width take the vector path,
  // odd rows and misaligned row starts the element-wise one.
  for (int64_t cols : {int64_t(1024), int64_t(97)}) {
    at::Tensor x = at::randn({300, cols}, on());
    checkFusedMatchesEager(kChainIR, {x, at::randn({cols}, on()), at::randn({300, 1}, on())});
    checkFusedMatchesEager(kChainIR, {x, at::randn({300, cols + 1}, on()).slice(1, 1, cols + 1),
                                      at::randn({300, 1}, on())});
  }
  for (at::ScalarType dtype : {at::kHalf, at::kBFloat16}) {
    at::Tensor x = at::randn({64, 256}, on(dtype));
    auto graph = parseIR(kChainIR);
    fuseGraph(graph);
    const std::vector<IValue> inputs = {x, at::randn({256}, on(dtype)),
                                        at::randn({64, 1}, on(dtype))};
    std::vector<IValue> widened;
    for (const IValue& v : inputs) widened.push_back(v.toTensor().to(at::kFloat));
    const at::Tensor out = runGraph(graph, inputs)[0].toTensor();
    const at::Tensor reference = runGraph(parseIR(kChainIR), widened)[0].toTensor().to(dtype);
    expectSameTensor(out.to(at::kFloat), reference.to(at::kFloat), 8e-3, 8e-3);
  }
}

TEST_F(GPUFusion, VectorPathHandlesTailsAndMisalignedPointers) {
  for (int64_t n : {int64_t(1) << 20, (int64_t(1) << 20) + 3, int64_t(5)}) {
    checkFusedMatchesEager(kChainIR, randn3({n}));
  }
  at::Tensor wide = at::randn({4099}, on());
  // Offsets by one element: not 16-byte aligned, so the kernel takes its scalar loop.
  checkFusedMatchesEager(kChainIR,
                         {wide.slice(0, 1, 4099), wide.slice(0, 0, 4098), wide.slice(0, 1, 4099)});
}

TEST_F(GPUFusion, ComputesHalfAndBFloat16InFloat) {
  checkReducedPrecisionComputesInFloat({333, 129}, at::Device(at::kCUDA, 0));
}

TEST_F(GPUFusion, HandlesZeroSizeAndZeroDimTensors) {
  checkFusedMatchesEager(kChainIR, randn3({0, 7}));
  checkFusedMatchesEager(kChainIR, randn3({}));
}

TEST_F(GPUFusion, NewSizesReuseTheCompiledKernel) {
  checkNewSizesReuseTheKernel(on(), {{32, 8}, {1, 100000}, {3, 5}});
}

TEST_F(GPUFusion, MixesCpuScalarTensorsWithGpuTensors) {
  // Eager accepts a zero-dim CPU tensor next to CUDA tensors; so must the fusion.
  checkFusedMatchesEager(kChainIR,
                         {at::randn({8, 8}, on()), at::randn({}), at::randn({8, 8}, on())},
                         Expect::kFallback);
}

TEST_F(GPUFusion, RandLikeIsUniformReproducibleAndFresh) {
  const char* ir = R"IR(
graph(%x : Tensor):
  %none : NoneType = prim::Constant()
  %r : Tensor = aten::rand_like(%x, %none, %none, %none, %none, %none)
  %one : int = prim::Constant[value=1]()
  %y : Tensor = aten::add(%r, %x, %one)
  return (%y, %r)
)IR";
  auto graph = parseIR(ir);
  fuseGraph(graph);
  for (at::ScalarType dtype : {at::kFloat, at::kHalf, at::kBFloat16, at::kDouble}) {
    at::Tensor x = at::zeros({1 << 20}, on(dtype));
    const int64_t fallbacks = getStats().fallbacks;
    at::manual_seed(123);
    const auto first = runGraph(graph, {x});
    const auto second = runGraph(graph, {x});
    at::manual_seed(123);
    const auto replay = runGraph(graph, {x});
    EXPECT_EQ(getStats().fallbacks, fallbacks);
    const at::Tensor r = first[1].toTensor().to(at::kDouble);
    EXPECT_EQ(first[1].toTensor().scalar_type(), dtype);
    EXPECT_GE(r.min().item<double>(), 0.0);
    EXPECT_LT(r.max().item<double>(), 1.0);
    EXPECT_NEAR(r.mean().item<double>(), 0.5, 0.005) << dtype;
    EXPECT_NEAR(r.var().item<double>(), 1.0 / 12, 0.005) << dtype;
    EXPECT_TRUE(at::equal(first[1].toTensor(), replay[1].toTensor())) << "manual_seed must replay";
    EXPECT_FALSE(at::equal(first[1].toTensor(), second[1].toTensor())) << "calls must differ";
    expectSameTensor(first[0].toTensor(), first[1].toTensor() + x);
  }
}

TEST_F(GPUFusion, RunsOnSecondDevice) {
  if (at::getNumGPUs() < 2) GTEST_SKIP() << "needs two GPUs";
  std::vector<IValue> inputs = {at::randn({100, 3}, on(at::kFloat, 1)),
                                at::randn({3}, on(at::kFloat, 1)),
                                at::randn({100, 1}, on(at::kFloat, 1))};
  auto fused = checkFusedMatchesEager(kChainIR, inputs);
  const at::Tensor out = runGraph(fused, inputs)[0].toTensor();
  EXPECT_EQ(out.device(), at::Device(at::kCUDA, 1));
}

TEST_F(GPUFusion, RandomGraphsMatchEager) {
  fuzzAgainstEager(c10::Device(c10::kCUDA, 0), 150);
}

}  // namespace
}  // namespace testing
}  // namespace torch_fuser
