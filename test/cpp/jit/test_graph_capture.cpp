// CUDA graph capture, the pass's side (capture_region.h): which runs of nodes move into a
// fuser::CapturedGraph, and that the node computes what they did. Without a GPU the node
// interprets its subgraph; GPUFusion tests the capture and replay.
#include "test/cpp/jit/test_utils.h"

#include "torch/csrc/jit/codegen/fuser/capture_region.h"
#include "torch/csrc/jit/codegen/fuser/profile_facts.h"

namespace torch_fuser {
namespace testing {
namespace {

const char* const kCudaType = "Float(*, *, device=cuda:0)";

// The IR with one more input, %sizes : int[].
std::string withListInput(std::string ir) {
  const size_t end = ir.find("):\n");
  ir.insert(end, ", %sizes : int[]");
  return ir;
}

bool wrap(const std::shared_ptr<Graph>& graph) {
  return wrapCapturableRun(graph, ProfileFacts(*graph->block()));
}

TEST(FusionPass, CaptureWrapsAnRnnLoopOnCudaWithTheTupleItReturns) {
  auto graph = parseIR(lstmLoopIR(kCudaType));
  ASSERT_TRUE(wrap(graph));
  ASSERT_EQ(countKind(*graph, "fuser::CapturedGraph"), 1u);
  EXPECT_EQ(countKind(*graph, "prim::Loop"), 0u);
  const torch::jit::Node* captured = graph->outputs()[0]->node();
  ASSERT_EQ(captured->kind(), capturedGraphKind());
  const Graph& subgraph = *captured->g(c10::attr::Subgraph);
  EXPECT_EQ(countKind(subgraph, "prim::Loop"), 1u);
  EXPECT_EQ(countKind(subgraph, "aten::mm"), 2u);
  EXPECT_EQ(countKind(subgraph, "prim::TupleConstruct"), 1u);
  // Tensors in, the tuple out; the constants it reads were cloned into it.
  EXPECT_EQ(captured->inputs().size(), 6u);
  EXPECT_EQ(captured->outputs().size(), 1u);
  EXPECT_EQ(countKind(subgraph, "prim::Constant"), 4u);
  graph->lint();
  subgraph.lint();
}

TEST(FusionPass, CaptureLeavesResultsItCannotHandOutAfterTheRun) {
  // A list of tensors cannot be a result: the run ends before the node returning one.
  auto graph = parseIR(R"IR(
graph(%x : Float(*, *, device=cuda:0), %w : Float(*, *, device=cuda:0)):
  %zero : int = prim::Constant[value=0]()
  %true : bool = prim::Constant[value=1]()
  %n : int = aten::size(%x, %zero)
  %out : Tensor = prim::Loop(%n, %true, %x)
    block0(%i : int, %h : Tensor):
      %a : Tensor = aten::mm(%h, %w)
      %b : Tensor = aten::tanh(%a)
      -> (%true, %b)
  %list : Tensor[] = prim::ListConstruct(%out, %x)
  return (%list)
)IR");
  ASSERT_TRUE(wrap(graph));
  const torch::jit::Node* list = graph->outputs()[0]->node();
  EXPECT_EQ(list->kind(), c10::prim::ListConstruct);
  EXPECT_EQ(list->input(0)->node()->kind(), capturedGraphKind());
}

TEST(FusionPass, CapturedGraphComputesWhatTheRunDidWhereItInterprets) {
  FusionGuard fusion;
  auto original = parseIR(lstmLoopIR(kCudaType));
  auto wrapped = parseIR(lstmLoopIR(kCudaType));
  ASSERT_TRUE(wrap(wrapped));
  for (int64_t seq : {1, 5}) {
    // CPU tensors: the node runs its subgraph in the interpreter.
    const std::vector<IValue> inputs = lstmLoopInputs(seq, at::TensorOptions());
    const auto expected = runGraph(original, inputs)[0].toTuple()->elements();
    const auto actual = runGraph(wrapped, inputs)[0].toTuple()->elements();
    ASSERT_EQ(actual.size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      expectSameTensor(actual[i].toTensor(), expected[i].toTensor(), 0, 0);
    }
    // The view of an input stays a view of it.
    EXPECT_EQ(actual[3].toTensor().data_ptr(), inputs[3].toTensor().data_ptr());
  }
}

TEST(FusionPass, CaptureLeavesRunsAReplayCouldGetWrong) {
  std::vector<std::pair<const char*, std::string>> cases = {
      {"writes an input", lstmLoopIR(kCudaType, "%w : Tensor = aten::add_(%b, %one, %one)")},
      {"reads tensor data on the host", lstmLoopIR(kCudaType, "%k : bool = aten::Bool(%h2)")},
      {"draws random numbers",
       lstmLoopIR(kCudaType,
                  "%none : NoneType = prim::Constant()\n"
                  "      %r : Tensor = aten::rand_like(%h2, %none, %none, %none, %none, %none)")},
      {"runs on the CPU", lstmLoopIR("Float(*, *, device=cpu)")},
      {"sizes a result by data", lstmLoopIR(kCudaType, "%nz : Tensor[] = aten::where(%h2)")},
      {"asks for tensor identity", lstmLoopIR(kCudaType, "%same : bool = aten::__is__(%h, %c)")},
      {"appends to a list from outside",
       withListInput(lstmLoopIR(kCudaType, "%lens : int[] = aten::append(%sizes, %i)"))},
      {"creates a tensor from nothing",
       lstmLoopIR(kCudaType,
                  "%sz : int[] = aten::size(%h2)\n"
                  "      %none : NoneType = prim::Constant()\n"
                  "      %z : Tensor = aten::zeros(%sz, %none, %none, %none, %none)")},
  };
  for (const auto& c : cases) {
    auto graph = parseIR(c.second);
    EXPECT_FALSE(wrap(graph)) << c.first;
    EXPECT_EQ(countKind(*graph, "fuser::CapturedGraph"), 0u) << c.first;
    EXPECT_EQ(countKind(*graph, "prim::Loop"), 1u) << c.first;
  }
}

TEST(FusionPass, CaptureSkipsStraightLineWorkTooSmallToPayForItsCopies) {
  auto graph = parseIR(R"IR(
graph(%x : Float(*, *, device=cuda:0), %w : Float(*, *, device=cuda:0)):
  %one : int = prim::Constant[value=1]()
  %a : Tensor = aten::mm(%x, %w)
  %b : Tensor = aten::sigmoid(%a)
  %c : Tensor = aten::add(%b, %x, %one)
  return (%c)
)IR");
  EXPECT_FALSE(wrap(graph));
  EXPECT_EQ(countKind(*graph, "fuser::CapturedGraph"), 0u);
}

}  // namespace
}  // namespace testing
}  // namespace torch_fuser
