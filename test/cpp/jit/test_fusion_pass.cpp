// The pass's rewrites one at a time: parse IR, run one rewrite, check the graph. The
// whole pass with numerics is tested in test_cpu_fusion.cpp.
#include "test/cpp/jit/test_utils.h"

#include "torch/csrc/jit/codegen/fuser/concat_absorption.h"
#include "torch/csrc/jit/codegen/fuser/fusion_state.h"
#include "torch/csrc/jit/codegen/fuser/group_finishing.h"
#include "torch/csrc/jit/codegen/fuser/multiply_by_one.h"
#include "torch/csrc/jit/codegen/fuser/producer_merging.h"
#include "torch/csrc/jit/codegen/fuser/profile_cleanup.h"
#include "torch/csrc/jit/codegen/fuser/sibling_fusion.h"
#include "torch/csrc/jit/codegen/fuser/size_bookkeeping.h"

#include <torch/csrc/jit/ir/alias_analysis.h>

namespace torch_fuser {
namespace testing {
namespace {

using torch::jit::testing::FileCheck;

// A state over `ir` with alias analysis built, as the pass has it when groups form.
struct Rewrite {
  explicit Rewrite(const char* ir, FusionTargets targets = {})
      : graph(parseIR(ir)), state(graph, targets) {
    state.rebuildAliasDb();
  }
  std::shared_ptr<Graph> graph;
  FusionState state;
};

// Runs `reference` and `graph` on tensors of each pair of shapes and compares their outputs
// from `first` on as printed (sizes, None).
void expectSameOutputsForShapes(
    const std::shared_ptr<Graph>& reference, const std::shared_ptr<Graph>& graph,
    const std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>>& shapes,
    size_t first) {
  for (const auto& pair : shapes) {
    const std::vector<IValue> inputs = {at::randn(pair.first), at::randn(pair.second)};
    const std::vector<IValue> expected = runGraph(reference, inputs);
    const std::vector<IValue> actual = runGraph(graph, inputs);
    ASSERT_EQ(actual.size(), expected.size());
    for (size_t i = first; i < expected.size(); ++i) {
      EXPECT_EQ(c10::str(actual[i]), c10::str(expected[i])) << "output " << i;
    }
  }
}

TEST(FusionPass, ProfileCleanupDropsOnlyProfilesNextToFusibleOps) {
  const char* ir = R"IR(
graph(%x : Tensor, %w : Tensor):
  %x1 : Tensor = prim::profile[profiled_type=Float(4, 4, strides=[4, 1], requires_grad=0, device=cpu)](%x)
  %w1 : Tensor = prim::profile[profiled_type=Float(4, 4, strides=[4, 1], requires_grad=0, device=cpu)](%w)
  %m : Tensor = aten::mm(%x1, %w1)
  %m1 : Tensor = prim::profile[profiled_type=Float(4, 4, strides=[4, 1], requires_grad=0, device=cpu)](%m)
  %s : Tensor = aten::sigmoid(%m1)
  %s1 : Tensor = prim::profile[profiled_type=Float(4, 4, strides=[4, 1], requires_grad=0, device=cpu)](%s)
  %t : Tensor = aten::tanh(%s1)
  return (%t)
)IR";
  auto graph = parseIR(ir);
  FusionState state(graph, {});
  // The two around sigmoid go; the mm's operands' profiles stay (nothing fusible there).
  EXPECT_EQ(dropProfilesAroundFusibleNodes(state, graph->block()), 2);
  EXPECT_EQ(countKind(*graph, "prim::profile"), 2u);
  FileCheck().check("aten::mm")->check_not("prim::profile")->check("aten::sigmoid")->run(*graph);
  // What the dropped profiles said is kept.
  EXPECT_TRUE(state.facts().sizes(graph->inputs()[0]).has_value());
}

TEST(FusionPass, DropsEveryProfileLeftOnceGroupsAreFormed) {
  auto graph = parseIR(R"IR(
graph(%x : Tensor, %w : Tensor, %c : bool):
  %x1 : Tensor = prim::profile[profiled_type=Float(4, 4, strides=[4, 1], requires_grad=0, device=cpu)](%x)
  %w1 : Tensor = prim::profile[profiled_type=Float(4, 4, strides=[4, 1], requires_grad=0, device=cpu)](%w)
  %m : Tensor = aten::mm(%x1, %w1)
  %r : Tensor = prim::If(%c)
    block0():
      %m1 : Tensor = prim::profile[profiled_type=Float(4, 4, strides=[4, 1], requires_grad=0, device=cpu)](%m)
      -> (%m1)
    block1():
      -> (%m)
  return (%r)
)IR");
  EXPECT_EQ(dropRemainingProfiles(graph->block()), 3);
  EXPECT_EQ(countKind(*graph, "prim::profile"), 0u);
  FileCheck().check("aten::mm(%x, %w)")->run(*graph);
}

TEST(FusionPass, DropsAMultiplicationByOneOnlyBeforeSums) {
  const char* ir = R"IR(
graph(%g : Float(4, 4, strides=[4, 1], device=cpu), %size : int[]?):
  %one : int = prim::Constant[value=1]()
  %a : Tensor = aten::mul(%g, %one)
  %ra : Tensor = aten::_grad_sum_to_size(%a, %size)
  %b : Tensor = aten::mul(%g, %one)
  %rb : Tensor = aten::_grad_sum_to_size(%b, %size)
  %c : Tensor = aten::relu(%b)
  return (%ra, %rb, %c)
)IR";
  auto graph = parseIR(ir);
  FusionState state(graph, {});
  // %b is read by relu too: it stays.
  EXPECT_EQ(dropMultiplicationsByOneBeforeSums(graph->block(), state.facts()), 1);
  EXPECT_EQ(countKind(*graph, "aten::mul"), 1u);
  FileCheck().check("aten::_grad_sum_to_size(%g, %size)")->run(*graph);
}

TEST(FusionPass, ProducerMergingMakesOneGroupPerChainAndLeavesTheMatmul) {
  Rewrite r(R"IR(
graph(%x : Tensor, %w : Tensor, %b : Tensor):
  %one : int = prim::Constant[value=1]()
  %m : Tensor = aten::mm(%x, %w)
  %a : Tensor = aten::add(%m, %b, %one)
  %s : Tensor = aten::sigmoid(%a)
  %t : Tensor = aten::tanh(%a)
  %o : Tensor = aten::mul(%s, %t)
  return (%o, %a)
)IR");
  mergeProducers(r.state, r.graph->block());
  EXPECT_EQ(countGroups(*r.graph), 1u);
  EXPECT_EQ(countKind(*firstGroupSubgraph(*r.graph), "aten::add"), 1u);
  FileCheck().check("aten::mm")->check_count("fuser::FusionGroup", 1)->run(*r.graph);
  // %a is read outside too: a second output of the group.
  EXPECT_EQ(firstGroupSubgraph(*r.graph)->outputs().size(), 2u);
}

TEST(FusionPass, ProducerMergingPushesAChunkIntoTheGroupComputingIt) {
  Rewrite r(R"IR(
graph(%x : Float(4, 8, strides=[8, 1], device=cpu), %y : Float(4, 8, strides=[8, 1], device=cpu)):
  %one : int = prim::Constant[value=1]()
  %two : int = prim::Constant[value=2]()
  %a : Tensor = aten::add(%x, %y, %one)
  %chunks : Tensor[] = aten::chunk(%a, %two, %one)
  %p : Tensor, %q : Tensor = prim::ListUnpack(%chunks)
  %r : Tensor = aten::mul(%p, %q)
  return (%r)
)IR");
  mergeProducers(r.state, r.graph->block());
  EXPECT_EQ(countGroups(*r.graph), 1u);
  EXPECT_EQ(countKind(*r.graph, "aten::chunk"), 0u);
  // Each input is cut inside the group; the sum is computed once per piece.
  auto subgraph = firstGroupSubgraph(*r.graph);
  EXPECT_EQ(countKind(*subgraph, "prim::ConstantChunk"), 2u);
  EXPECT_EQ(countKind(*subgraph, "aten::add"), 2u);
}

TEST(FusionPass, ProducerMergingComputesSizesOfIntermediatesFromGroupInputs) {
  Rewrite r(R"IR(
graph(%x : Tensor, %y : Tensor):
  %a : Tensor = aten::mul(%x, %y)
  %s : Tensor = aten::sigmoid(%a)
  %size : int[] = aten::size(%a)
  return (%s, %size)
)IR");
  mergeProducers(r.state, r.graph->block());
  EXPECT_EQ(countGroups(*r.graph), 1u);
  // %a no longer leaves the group: its size is the broadcast of the inputs' sizes.
  EXPECT_EQ(firstGroupSubgraph(*r.graph)->outputs().size(), 1u);
  FileCheck()
      .check("aten::size(%x)")
      ->check("aten::size(%y)")
      ->check("prim::BroadcastSizes")
      ->run(*r.graph);
}

// The gate pieces of an LSTM cell in training: autodiff reads their sizes, and once the
// chunk moved into the group they would be results written only for that. Their sizes
// come from the inputs', through prim::ChunkSizes (the last of 3 pieces of 7 is 1 wide).
TEST(FusionPass, ProducerMergingComputesSizesOfPushedChunkPiecesFromGroupInputs) {
  const char* ir = R"IR(
graph(%x : Tensor, %b : Tensor):
  %one : int = prim::Constant[value=1]()
  %a : Tensor = aten::add(%x, %b, %one)
  %p : Tensor, %q : Tensor, %r : Tensor = prim::ConstantChunk[chunks=3, dim=-1](%a)
  %sp : Tensor = aten::sigmoid(%p)
  %tr : Tensor = aten::tanh(%r)
  %m : Tensor = aten::mul(%sp, %q)
  %zp : int[] = aten::size(%p)
  %zq : int[] = aten::size(%q)
  %zr : int[] = aten::size(%r)
  return (%m, %tr, %zp, %zq, %zr)
)IR";
  Rewrite r(ir);
  mergeProducers(r.state, r.graph->block());
  ASSERT_EQ(countGroups(*r.graph), 1u) << *r.graph;
  EXPECT_EQ(countKind(*firstGroupSubgraph(*r.graph), "prim::ConstantChunk"), 2u);
  // Only %m and %tr leave the group.
  EXPECT_EQ(firstGroupSubgraph(*r.graph)->outputs().size(), 2u) << *r.graph;
  // %p and %q have one shape: one prim::ChunkSizes serves both (and %r, its last output).
  EXPECT_EQ(countKind(*r.graph, "prim::ChunkSizes"), 2u) << *r.graph;
  expectSameOutputsForShapes(parseIR(ir), r.graph, {{{2, 7}, {7}}, {{5, 9}, {1}}}, 2);
}

// fuser::Sizes evaluates prim::ChunkSizes (both results) as the interpreter does.
TEST(FusionPass, GathersChunkSizesIntoTheSizesNode) {
  const char* ir = R"IR(
graph(%x : Tensor, %b : Tensor):
  %sx : int[] = aten::size(%x)
  %sb : int[] = aten::size(%b)
  %sa : int[] = prim::BroadcastSizes(%sx, %sb)
  %piece : int[], %last : int[] = prim::ChunkSizes[chunks=4, dim=1](%sa)
  %gx : int[]? = aten::_size_if_not_equal(%sx, %piece)
  return (%piece, %last, %gx)
)IR";
  auto reference = parseIR(ir);
  auto graph = parseIR(ir);
  torch::jit::AliasDb alias_db(graph);
  EXPECT_EQ(gatherSizeBookkeeping(graph->block(), alias_db), 5);
  EXPECT_EQ(countKind(*graph, "prim::ChunkSizes"), 0u);
  expectSameOutputsForShapes(reference, graph,
                             {{{3, 8}, {8}}, {{3, 10}, {1}}, {{2, 0}, {1}}, {{2, 3, 5}, {5}}}, 0);
  // A dim out of range raises in both.
  const std::vector<IValue> rank_one = {at::randn({8}), at::randn({8})};
  EXPECT_ANY_THROW(runGraph(reference, rank_one));
  EXPECT_ANY_THROW(runGraph(graph, rank_one));
}

TEST(FusionPass, ConcatAbsorptionWritesEachPieceIntoTheJoin) {
  Rewrite r(R"IR(
graph(%x : Tensor, %y : Tensor):
  %zero : int = prim::Constant[value=0]()
  %a : Tensor = aten::sigmoid(%x)
  %b : Tensor = aten::tanh(%y)
  %list : Tensor[] = prim::ListConstruct(%a, %b)
  %c : Tensor = aten::cat(%list, %zero)
  return (%c)
)IR");
  mergeProducers(r.state, r.graph->block());
  EXPECT_EQ(absorbConcatenations(r.state, r.graph->block()), 1);
  EXPECT_EQ(countGroups(*r.graph), 1u);
  EXPECT_EQ(countKind(*r.graph, "aten::cat"), 0u);
  EXPECT_EQ(countKind(*firstGroupSubgraph(*r.graph), "prim::FusedConcat"), 1u);
}

TEST(FusionPass, SiblingFusionMergesOpsReadingOneInput) {
  Rewrite r(R"IR(
graph(%x : Tensor):
  %a : Tensor = aten::sigmoid(%x)
  %b : Tensor = aten::tanh(%x)
  return (%a, %b)
)IR");
  mergeProducers(r.state, r.graph->block());
  EXPECT_EQ(countGroups(*r.graph), 0u);
  EXPECT_EQ(fuseSiblings(r.state, r.graph->block()), 1);
  EXPECT_EQ(countGroups(*r.graph), 1u);
  EXPECT_EQ(countKind(*r.graph, "aten::sigmoid") + countKind(*r.graph, "aten::tanh"), 0u);
  auto subgraph = firstGroupSubgraph(*r.graph);
  EXPECT_EQ(subgraph->inputs().size(), 1u);  // x read once
  EXPECT_EQ(subgraph->outputs().size(), 2u);
}

TEST(FusionPass, SiblingFusionNeedsKnownEqualIterationSpaces) {
  // Without shapes, siblings reading different tensors may run over different spaces.
  const char* unknown = R"IR(
graph(%x : Tensor, %y : Tensor):
  %a : Tensor = aten::mul(%x, %y)
  %b : Tensor = aten::tanh(%x)
  return (%a, %b)
)IR";
  Rewrite r(unknown);
  EXPECT_EQ(fuseSiblings(r.state, r.graph->block()), 0);
  // Known shapes that broadcast to the same space: one kernel.
  const char* equal = R"IR(
graph(%x : Float(4, 4, strides=[4, 1], device=cpu), %y : Float(1, 4, strides=[4, 1], device=cpu)):
  %a : Tensor = aten::mul(%x, %y)
  %b : Tensor = aten::tanh(%x)
  return (%a, %b)
)IR";
  Rewrite e(equal);
  EXPECT_EQ(fuseSiblings(e.state, e.graph->block()), 1);
  // Known shapes that do not: two.
  const char* differ = R"IR(
graph(%x : Float(4, 4, strides=[4, 1], device=cpu), %y : Float(3, 4, 4, strides=[16, 4, 1], device=cpu)):
  %a : Tensor = aten::mul(%x, %y)
  %b : Tensor = aten::tanh(%x)
  return (%a, %b)
)IR";
  Rewrite d(differ);
  EXPECT_EQ(fuseSiblings(d.state, d.graph->block()), 0);
}

TEST(FusionPass, SiblingFusionNeverMovesAcrossADependency) {
  // tanh(x) reads what sigmoid(x) feeds through a matmul: merging would need the matmul
  // both before and after the group.
  Rewrite r(R"IR(
graph(%x : Tensor):
  %a : Tensor = aten::sigmoid(%x)
  %m : Tensor = aten::mm(%a, %x)
  %b : Tensor = aten::mul(%x, %m)
  return (%b)
)IR");
  EXPECT_EQ(fuseSiblings(r.state, r.graph->block()), 0);
  FileCheck().check("aten::sigmoid")->check("aten::mm")->check("aten::mul")->run(*r.graph);
}

TEST(FusionPass, GroupFinishingUndoesSmallGroupsAndTakesInViews) {
  Rewrite r(R"IR(
graph(%x : Tensor, %d : Tensor, %w : Tensor):
  %one : int = prim::Constant[value=1]()
  %e : Tensor = aten::exp(%x)
  %m : Tensor = aten::mm(%e, %w)
  %u : Tensor = aten::unsqueeze(%d, %one)
  %p : Tensor = aten::mul(%m, %u)
  %t : Tensor = aten::tanh(%p)
  return (%t)
)IR",
            FusionTargets{});
  mergeProducers(r.state, r.graph->block());  // mul + tanh
  EXPECT_EQ(wrapLoneOps(r.state, r.graph->block()), 0);
  // A group of one op (below the minimum size of 2) is undone.
  for (torch::jit::Node* node : r.graph->nodes()) {
    if (node->kind() != c10::aten::exp) continue;
    torch::jit::SubgraphUtils::createSingletonSubgraphAndUpdateAliasing(node, fusionGroupKind(),
                                                                        r.state.aliasDb());
    break;
  }
  EXPECT_EQ(countGroups(*r.graph), 2u);
  finishGroups(r.state, r.graph->block());
  EXPECT_EQ(countGroups(*r.graph), 1u);
  auto subgraph = firstGroupSubgraph(*r.graph);
  EXPECT_EQ(countKind(*subgraph, "aten::unsqueeze"), 1u);  // a view the kernel reads
  EXPECT_EQ(countKind(*subgraph, "prim::Constant"), 1u);   // its dim, a literal
  FileCheck().check("aten::exp")->check("aten::mm")->check("fuser::FusionGroup")->run(*r.graph);

  // With a minimum group size of 1 the lone exp gets a kernel of its own.
  FusionTargets lone;
  lone.min_group_size_cpu = lone.min_group_size_cuda = 1;
  Rewrite l(R"IR(
graph(%x : Tensor, %w : Tensor):
  %e : Tensor = aten::exp(%x)
  %m : Tensor = aten::mm(%e, %w)
  return (%m)
)IR",
            lone);
  EXPECT_EQ(wrapLoneOps(l.state, l.graph->block()), 1);
  finishGroups(l.state, l.graph->block());
  EXPECT_EQ(countGroups(*l.graph), 1u);
}

TEST(FusionPass, GathersAutodiffSizeBookkeepingIntoOneNode) {
  const char* ir = R"IR(
graph(%x : Tensor, %b : Tensor):
  %one : int = prim::Constant[value=1]()
  %a : Tensor = aten::add(%x, %b, %one)
  %sx : int[] = aten::size(%x)
  %sb : int[] = aten::size(%b)
  %sa : int[] = prim::BroadcastSizes(%sx, %sb)
  %gx : int[]? = aten::_size_if_not_equal(%sx, %sa)
  %gb : int[]? = aten::_size_if_not_equal(%sb, %sa)
  %kept : int[] = aten::size(%a)
  %n : int = aten::len(%kept)
  return (%a, %gx, %gb, %n)
)IR";
  auto reference = parseIR(ir);
  auto graph = parseIR(ir);
  torch::jit::AliasDb alias_db(graph);
  // aten::size(%a) is read by aten::len: it stays.
  EXPECT_EQ(gatherSizeBookkeeping(graph->block(), alias_db), 5);
  EXPECT_EQ(countKind(*graph, "fuser::Sizes"), 1u);
  EXPECT_EQ(countKind(*graph, "aten::_size_if_not_equal"), 0u);
  EXPECT_EQ(countKind(*graph, "aten::size"), 1u);
  // The same values as the nodes it replaced: None where the sizes are equal, the
  // operand's sizes where it was broadcast; sizes that do not broadcast raise in both.
  expectSameOutputsForShapes(reference, graph, {{{4, 3}, {3}}, {{4, 3}, {4, 3}}, {{1, 3}, {5, 1}}},
                             1);
  const std::vector<IValue> mismatched = {at::randn({4, 3}), at::randn({2})};
  EXPECT_ANY_THROW(runGraph(reference, mismatched));
  EXPECT_ANY_THROW(runGraph(graph, mismatched));
}

}  // namespace
}  // namespace testing
}  // namespace torch_fuser
