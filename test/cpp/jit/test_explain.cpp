// explain(): the pass's reasons per node, the executor's counts per group.
#include "test/cpp/jit/test_utils.h"

#include <ATen/ops/randn.h>
#include <ATen/ops/stack.h>
#include <c10/core/GradMode.h>

#include <algorithm>

namespace torch_fuser {
namespace testing {
namespace {

// A matmul (not elementwise), a fusible chain after it, and a lone elementwise op (of an
// input of its own: one sharing an input with the chain would join it as a sibling).
const char* const kMatmulChainIR = R"IR(
graph(%x : Tensor, %w : Tensor, %y : Tensor, %z : Tensor):
  %one : int = prim::Constant[value=1]()
  %h : Tensor = aten::mm(%x, %w)
  %s : Tensor = aten::sigmoid(%h)
  %t : Tensor = aten::tanh(%h)
  %a : Tensor = aten::mul(%s, %t)
  %b : Tensor = aten::add(%a, %y, %one)
  %c : Tensor = aten::sin(%z)
  return (%b, %c)
)IR";

std::vector<IValue> matmulChainInputs() {
  return {at::randn({8, 8}), at::randn({8, 8}), at::randn({8, 8}), at::randn({8, 8})};
}

const NodeExplanation& nodeOf(const Explanation& e, const std::string& op) {
  const auto found = std::find_if(e.nodes.begin(), e.nodes.end(),
                                  [&](const NodeExplanation& n) { return n.op == op; });
  EXPECT_NE(found, e.nodes.end()) << "no " << op << " in\n" << e.report();
  return *found;
}

TEST(CPUFusion, ExplainSaysWhyEachNodeWasLeftToEager) {
  FusionGuard fusion;
  c10::NoGradGuard no_grad;
  const Explanation e = explain(parseIR(kMatmulChainIR), matmulChainInputs());

  ASSERT_EQ(e.groups.size(), 1u) << e.report();
  const GroupExplanation& group = e.groups[0];
  EXPECT_EQ(group.kernel_name, "fused_sigmoid_tanh_mul_add");
  EXPECT_EQ(group.ops.size(), 4u);
  EXPECT_GE(group.launches, 1);
  EXPECT_TRUE(group.fallbacks.empty());
  ASSERT_EQ(group.kernels.size(), 1u);
  EXPECT_EQ(group.kernels[0], "cpu Float Float -> Float") << e.report();

  for (const char* op : {"aten::sigmoid", "aten::tanh", "aten::mul", "aten::add"}) {
    EXPECT_EQ(nodeOf(e, op).group, 0) << op;
  }
  EXPECT_EQ(nodeOf(e, "aten::mm").group, -1);
  EXPECT_NE(nodeOf(e, "aten::mm").reason.find("not in the op table"), std::string::npos);
  EXPECT_EQ(nodeOf(e, "aten::sin").group, -1);
  EXPECT_NE(nodeOf(e, "aten::sin").reason.find("lone op"), std::string::npos);
  EXPECT_NE(e.optimized_graph.find("fuser::FusionGroup"), std::string::npos);
  const std::string report = e.report();
  EXPECT_NE(report.find("group 0: fused_sigmoid_tanh_mul_add"), std::string::npos) << report;
  EXPECT_NE(report.find("aten::mm"), std::string::npos) << report;
}

TEST(CPUFusion, ExplainNamesADisabledDevice) {
  FusionGuard fusion;
  c10::NoGradGuard no_grad;
  enable(/*cpu=*/false, /*cuda=*/true);
  const Explanation e = explain(parseIR(kMatmulChainIR), matmulChainInputs());
  enable(true, true);
  EXPECT_TRUE(e.groups.empty()) << e.report();
  EXPECT_EQ(nodeOf(e, "aten::sigmoid").reason, "device cpu is disabled (enable(cpu=False))");
}

TEST(CPUFusion, ExplainSaysFusionIsDisabled) {
  const bool was_enabled = isEnabled();
  disable();
  const Explanation e = explain(parseIR(kMatmulChainIR), matmulChainInputs());
  if (was_enabled) enable(true, true);
  EXPECT_TRUE(e.nodes.empty());
  ASSERT_EQ(e.notes.size(), 1u);
  EXPECT_NE(e.notes[0].find("fusion is disabled"), std::string::npos);
}

// The minimum group size: a lone op gets a kernel of its own only where it is 1.
TEST(CPUFusion, KeepsLoneOpsOnlyAtMinimumGroupSizeOne) {
  const char* lone = R"IR(
graph(%x : Tensor):
  %xp : Tensor = prim::profile[profiled_type=Float(4, 8, strides=[8, 1], requires_grad=0, device=cpu)](%x)
  %y : Tensor = aten::tanh(%xp)
  return (%y)
)IR";
  FusionTargets targets;
  auto graph = parseIR(lone);
  fuseElementwise(graph, targets);
  EXPECT_EQ(countGroups(*graph), 0u) << *graph;

  targets.min_group_size_cpu = 1;  // the profile says cpu: the cuda size does not matter
  graph = parseIR(lone);
  fuseElementwise(graph, targets);
  ASSERT_EQ(countGroups(*graph), 1u) << *graph;
  const at::Tensor x = at::randn({4, 8});
  expectSameTensor(runGraph(graph, {x})[0].toTensor(), x.tanh());

  targets.min_group_size_cpu = 3;  // a group of two ops is undone
  graph = parseIR(kChainIR);
  fuseElementwise(graph, targets);
  EXPECT_EQ(countGroups(*graph), 1u) << "the chain has more than three ops";
}

// A group a join made (two ops with the stack) is never undone: fuser::FusedStack has no
// operator outside a group.
TEST(CPUFusion, KeepsJoinGroupsBelowTheMinimumGroupSize) {
  const char* stacked = R"IR(
graph(%x : Tensor, %y : Tensor):
  %zero : int = prim::Constant[value=0]()
  %t : Tensor = aten::tanh(%x)
  %l : Tensor[] = prim::ListConstruct(%t, %y)
  %s : Tensor = aten::stack(%l, %zero)
  return (%s)
)IR";
  const at::Tensor x = at::randn({4, 8});
  const at::Tensor y = at::randn({4, 8});
  for (int size : {2, 3}) {
    FusionTargets targets;
    targets.min_group_size_cpu = targets.min_group_size_cuda = size;
    auto graph = parseIR(stacked);
    fuseElementwise(graph, targets);
    EXPECT_EQ(countGroups(*graph), 1u) << "min size " << size << "\n" << *graph;
    for (const torch::jit::Node* node : graph->nodes()) {
      EXPECT_NE(std::string(node->kind().toQualString()), "fuser::FusedStack") << *graph;
    }
    expectSameTensor(runGraph(graph, {x, y})[0].toTensor(), at::stack({x.tanh(), y}));
  }
}

}  // namespace
}  // namespace testing
}  // namespace torch_fuser
