// Guards (guards.h), devices switched off, and fusion that depends only on the graph.
#include "test/cpp/jit/test_utils.h"

#include "torch/csrc/jit/codegen/fuser/guards.h"

#include <c10/core/GradMode.h>

#include <sstream>

namespace torch_fuser {
namespace testing {
namespace {

using torch::jit::testing::FileCheck;

// The chain as the profiling executor hands it over: profiled float32 CPU inputs of rank 2.
const char* const kProfiledChainIR = R"IR(
graph(%x : Tensor, %y : Tensor, %z : Tensor):
  %one : int = prim::Constant[value=1]()
  %half : float = prim::Constant[value=0.5]()
  %xp : Tensor = prim::profile[profiled_type=Float(4, 8, strides=[8, 1], requires_grad=0, device=cpu)](%x)
  %yp : Tensor = prim::profile[profiled_type=Float(4, 8, strides=[8, 1], requires_grad=0, device=cpu)](%y)
  %zp : Tensor = prim::profile[profiled_type=Float(4, 8, strides=[8, 1], requires_grad=0, device=cpu)](%z)
  %a : Tensor = aten::mul(%xp, %yp)
  %b : Tensor = aten::add(%a, %zp, %one)
  %c : Tensor = aten::sigmoid(%b)
  %d : Tensor = aten::tanh(%c)
  %e : Tensor = aten::mul(%d, %half)
  %f : Tensor = aten::relu(%xp)
  %g : Tensor = aten::add(%e, %f, %one)
  return (%g)
)IR";

// The pass as the profiling executor runs it (guards on); fuseGraph() guards nothing.
void fuseAsTheExecutor(std::shared_ptr<Graph>& graph) {
  fuseElementwise(graph, FusionTargets{/*cpu=*/true, /*cuda=*/true, /*guard=*/true});
}

torch::jit::Node* onlyNodeOfKind(Graph& graph, const char* kind) {
  const c10::Symbol symbol = c10::Symbol::fromQualString(kind);
  std::vector<torch::jit::Block*> blocks{graph.block()};
  torch::jit::Node* found = nullptr;
  while (!blocks.empty()) {
    torch::jit::Block* block = blocks.back();
    blocks.pop_back();
    for (torch::jit::Node* node : block->nodes()) {
      if (node->kind() == symbol) {
        EXPECT_EQ(found, nullptr) << "more than one " << kind;
        found = node;
      }
      for (torch::jit::Block* sub : node->blocks()) blocks.push_back(sub);
    }
  }
  return found;
}

TEST(CPUFusion, GuardsGroupsFormedFromProfilesWithAFallbackForTheExecutor) {
  FusionGuard fusion;
  auto graph = parseIR(kProfiledChainIR);
  fuseAsTheExecutor(graph);
  ASSERT_EQ(countGroups(*graph), 1u);
  // Checked: dtype, device, rank and requires_grad — never sizes or strides.
  FileCheck()
      .check(
          "fuser::TypeGuard[types=[Float(*, *, requires_grad=0, device=cpu), Float(*, *, "
          "requires_grad=0, device=cpu), Float(*, *, requires_grad=0, device=cpu)]]")
      ->check("prim::If")
      ->check("fuser::FusionGroup")
      ->check("prim::FallbackGraph")
      ->run(*graph);
  torch::jit::Node* group = onlyNodeOfKind(*graph, "fuser::FusionGroup");
  torch::jit::Node* fallback = onlyNodeOfKind(*graph, "prim::FallbackGraph");
  ASSERT_NE(fallback, nullptr);
  // The group in the first block, its computation unfused in the second, both on the
  // same inputs; the If's outputs replace the group's.
  EXPECT_EQ(group->owningBlock(), group->owningBlock()->owningNode()->blocks()[0]);
  EXPECT_EQ(fallback->owningBlock(), group->owningBlock()->owningNode()->blocks()[1]);
  EXPECT_EQ(fallback->inputs(), group->inputs());
  EXPECT_EQ(countKind(*fallback->g(c10::attr::Subgraph), "aten::sigmoid"), 1u);
  EXPECT_EQ(graph->outputs()[0]->node()->kind(), c10::prim::If);
}

TEST(CPUFusion, LeavesGroupsOfUnprofiledGraphsUnguarded) {
  FusionGuard fusion;
  // The legacy executor specializes on argument types itself; hand-built graphs have no
  // profiles to guard.
  auto graph = parseIR(kChainIR);
  fuseAsTheExecutor(graph);
  EXPECT_EQ(countGroups(*graph), 1u);
  EXPECT_EQ(countKind(*graph, "fuser::TypeGuard"), 0u);
  EXPECT_EQ(countKind(*graph, "prim::If"), 0u);
  // fuseGraph() outside the executor guards nothing: only the profiling executor can run
  // a guard's prim::FallbackGraph.
  graph = parseIR(kProfiledChainIR);
  fuseGraph(graph);
  EXPECT_EQ(countGroups(*graph), 1u);
  EXPECT_EQ(countKind(*graph, "fuser::TypeGuard"), 0u);
  // Running the executor's pass again does not guard a guarded group twice.
  graph = parseIR(kProfiledChainIR);
  fuseAsTheExecutor(graph);
  fuseAsTheExecutor(graph);
  EXPECT_EQ(countKind(*graph, "fuser::TypeGuard"), 1u) << *graph;
}

TEST(CPUFusion, FallbackOfAGuardedGroupIsInStandardOps) {
  FusionGuard fusion;
  // A concatenation and a stack inside the group come back as aten::cat / aten::stack, so
  // the executor's fallback function can run them (and this pass fuse them again).
  auto graph = parseIR(R"IR(
graph(%x : Tensor, %y : Tensor):
  %zero : int = prim::Constant[value=0]()
  %xp : Tensor = prim::profile[profiled_type=Float(4, 8, strides=[8, 1], requires_grad=0, device=cpu)](%x)
  %yp : Tensor = prim::profile[profiled_type=Float(4, 8, strides=[8, 1], requires_grad=0, device=cpu)](%y)
  %a : Tensor = aten::sigmoid(%xp)
  %b : Tensor = aten::tanh(%yp)
  %l : Tensor[] = prim::ListConstruct(%a, %b)
  %c : Tensor = aten::cat(%l, %zero)
  %m : Tensor[] = prim::ListConstruct(%a, %b)
  %s : Tensor = aten::stack(%m, %zero)
  return (%c, %s)
)IR");
  fuseAsTheExecutor(graph);
  torch::jit::Node* fallback = onlyNodeOfKind(*graph, "prim::FallbackGraph");
  ASSERT_NE(fallback, nullptr) << *graph;
  const Graph& subgraph = *fallback->g(c10::attr::Subgraph);
  EXPECT_EQ(countKind(subgraph, "prim::FusedConcat") + countKind(subgraph, "fuser::FusedStack"), 0u)
      << subgraph;
  EXPECT_EQ(countKind(subgraph, "aten::cat") + countKind(subgraph, "aten::stack"),
            countKind(*firstGroupSubgraph(*graph), "prim::FusedConcat") +
                countKind(*firstGroupSubgraph(*graph), "fuser::FusedStack"));
  // The fallback computes what the graph computed before fusion.
  const std::vector<IValue> inputs = {at::randn({4, 8}), at::randn({4, 8})};
  std::vector<IValue> fallback_inputs;
  for (const torch::jit::Value* v : fallback->inputs()) {
    ASSERT_EQ(v->node()->kind(), c10::prim::Param);
    fallback_inputs.push_back(inputs[v->offset()]);
  }
  const auto unfused = runGraph(fallback->g(c10::attr::Subgraph), fallback_inputs);
  const at::Tensor a = inputs[0].toTensor().sigmoid(), b = inputs[1].toTensor().tanh();
  ASSERT_EQ(unfused.size(), 2u);
  expectSameTensor(unfused[0].toTensor(), at::cat({a, b}, 0), 0, 0);
  expectSameTensor(unfused[1].toTensor(), at::stack({a, b}, 0), 0, 0);
}

// Runs a fuser::TypeGuard expecting `expected` on `input`.
bool guardPasses(const c10::TensorTypePtr& expected, const at::Tensor& input) {
  auto graph = std::make_shared<Graph>();
  torch::jit::Value* x = graph->addInput()->setType(c10::TensorType::get());
  torch::jit::Node* guard = graph->insertNode(graph->create(typeGuardKind(), {x}, 1));
  guard->tys_(c10::attr::types, {expected});
  guard->output()->setType(c10::BoolType::get());
  graph->registerOutput(guard->output());
  return runGraph(graph, {input})[0].toBool();
}

TEST(CPUFusion, TypeGuardComparesDtypeDeviceRankAndGradMode) {
  const c10::TensorTypePtr profiled = c10::TensorType::get()
                                          ->withDim(2)
                                          ->withScalarType(at::kFloat)
                                          ->withDevice(at::kCPU)
                                          ->withRequiresGrad(false);
  const at::Tensor x = at::randn({3, 4});
  EXPECT_TRUE(guardPasses(profiled, x));
  EXPECT_TRUE(guardPasses(profiled, at::randn({7, 1})));  // other sizes
  EXPECT_TRUE(guardPasses(profiled, x.t()));              // other layout
  EXPECT_FALSE(guardPasses(profiled, x.to(at::kDouble)));
  EXPECT_FALSE(guardPasses(profiled, x.unsqueeze(0)));
  EXPECT_FALSE(guardPasses(profiled, at::Tensor()));
  const at::Tensor trained = x.clone().set_requires_grad(true);
  {
    c10::AutoGradMode grad(true);
    EXPECT_FALSE(guardPasses(profiled, trained));
  }
  {
    c10::AutoGradMode no_grad(false);  // inference on a parameter
    EXPECT_TRUE(guardPasses(profiled, trained));
  }
  // What profiles did not settle is not compared.
  EXPECT_TRUE(guardPasses(c10::TensorType::get()->withScalarType(at::kFloat), x.unsqueeze(0)));
}

TEST(CPUFusion, FormsNoGroupsForValuesProfiledOnADisabledDevice) {
  FusionGuard fusion;
  enable(/*cpu=*/false, /*cuda=*/true);
  auto graph = parseIR(kProfiledChainIR);
  fuseGraph(graph);
  EXPECT_EQ(countGroups(*graph), 0u) << *graph;
  enable(true, true);
  graph = parseIR(kProfiledChainIR);
  fuseGraph(graph);
  EXPECT_EQ(countGroups(*graph), 1u);
}

// The LSTM gate sum in one of the orders that used to fuse into one group or two
// depending on where the allocator put values (a destroyed value's address reused).
const char* const kProfiledGateSumIR = R"IR(
graph(%x : Tensor, %hx : Tensor, %w_ih : Tensor, %w_hh : Tensor, %b_ih : Tensor, %b_hh : Tensor):
  %one : int = prim::Constant[value=1]()
  %four : int = prim::Constant[value=4]()
  %wi : Tensor = prim::profile[profiled_type=Float(10, 80, strides=[1, 10], requires_grad=0, device=cpu)](%w_ih)
  %xi : Tensor = prim::profile[profiled_type=Float(3, 10, strides=[10, 1], requires_grad=0, device=cpu)](%x)
  %mx : Tensor = aten::mm(%xi, %wi)
  %wh : Tensor = prim::profile[profiled_type=Float(20, 80, strides=[1, 20], requires_grad=0, device=cpu)](%w_hh)
  %hi : Tensor = prim::profile[profiled_type=Float(3, 20, strides=[20, 1], requires_grad=0, device=cpu)](%hx)
  %mh : Tensor = aten::mm(%hi, %wh)
  %bi : Tensor = prim::profile[profiled_type=Float(80, strides=[1], requires_grad=0, device=cpu)](%b_ih)
  %bh : Tensor = prim::profile[profiled_type=Float(80, strides=[1], requires_grad=0, device=cpu)](%b_hh)
  %mxp : Tensor = prim::profile[profiled_type=Float(3, 80, strides=[80, 1], requires_grad=0, device=cpu)](%mx)
  %mhp : Tensor = prim::profile[profiled_type=Float(3, 80, strides=[80, 1], requires_grad=0, device=cpu)](%mh)
  %s1 : Tensor = aten::add(%bi, %mhp, %one)
  %s1p : Tensor = prim::profile[profiled_type=Float(3, 80, strides=[80, 1], requires_grad=0, device=cpu)](%s1)
  %s2 : Tensor = aten::add(%s1p, %bh, %one)
  %s2p : Tensor = prim::profile[profiled_type=Float(3, 80, strides=[80, 1], requires_grad=0, device=cpu)](%s2)
  %gates : Tensor = aten::add(%s2p, %mxp, %one)
  %gp : Tensor = prim::profile[profiled_type=Float(3, 80, strides=[80, 1], requires_grad=0, device=cpu)](%gates)
  %chunks : Tensor[] = aten::chunk(%gp, %four, %one)
  %i : Tensor, %f : Tensor, %g : Tensor, %o : Tensor = prim::ListUnpack(%chunks)
  %a : Tensor = aten::mul(%i, %f)
  %b : Tensor = aten::mul(%a, %g)
  %c : Tensor = aten::mul(%b, %o)
  return (%c)
)IR";

TEST(CPUFusion, FallbackOfAPushedChunkChunksTheValueAsWritten) {
  FusionGuard fusion;
  // Inside the group the chunk is pushed onto the gate sum's inputs; the executor's
  // fallback function gets the program as written (differentiable by autodiff, and
  // fused again by this pass): the sum, then aten::chunk.
  auto graph = parseIR(kProfiledGateSumIR);
  fuseAsTheExecutor(graph);
  torch::jit::Node* fallback = onlyNodeOfKind(*graph, "prim::FallbackGraph");
  ASSERT_NE(fallback, nullptr) << *graph;
  const Graph& subgraph = *fallback->g(c10::attr::Subgraph);
  EXPECT_EQ(countKind(subgraph, "aten::chunk"), 1u) << subgraph;
  EXPECT_EQ(countKind(subgraph, "prim::ConstantChunk"), 0u) << subgraph;
  EXPECT_EQ(countKind(subgraph, "aten::add"), 3u) << subgraph;
  EXPECT_EQ(countKind(subgraph, "aten::mul"), 3u) << subgraph;
  // It computes what the group's kernel computes, a bias broadcast along rows included.
  std::vector<IValue> inputs;
  for (const torch::jit::Value* v : fallback->inputs()) {
    inputs.push_back(v->node()->kind() == c10::prim::Param && v->debugName().rfind("b_", 0) == 0
                         ? at::randn({80})
                         : at::randn({3, 80}));
  }
  const at::Tensor unfused = runGraph(fallback->g(c10::attr::Subgraph), inputs)[0].toTensor();
  const at::Tensor fused = runGraph(firstGroupSubgraph(*graph)->copy(), inputs)[0].toTensor();
  expectSameTensor(unfused, fused, 1e-6, 1e-6);
}

TEST(CPUFusion, FusionDependsOnTheGraphNotOnAddresses) {
  FusionGuard fusion;
  // The pass over the same IR, with the heap in a different state each time: the same
  // groups, byte for byte.
  std::string first;
  std::vector<std::shared_ptr<Graph>> kept;  // keeps addresses taken between runs
  for (int run = 0; run < 40; ++run) {
    for (int k = 0; k < run % 7; ++k) kept.push_back(parseIR(kProfiledChainIR));
    auto graph = parseIR(kProfiledGateSumIR);
    fuseGraph(graph);
    ASSERT_EQ(countGroups(*graph), 1u) << *graph;
    std::ostringstream printed;
    printed << *graph;
    if (run == 0) first = printed.str();
    EXPECT_EQ(printed.str(), first) << "run " << run;
    if (run % 3 == 0) kept.clear();
  }
}

}  // namespace
}  // namespace testing
}  // namespace torch_fuser
