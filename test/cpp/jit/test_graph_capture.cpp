// CUDA graph capture, the pass's side (capture_region.h): which runs of nodes move into a
// fuser::CapturedGraph, and that the node computes what they did. Without a GPU the node
// interprets its subgraph; GPUFusion tests the capture and replay.
#include "test/cpp/jit/test_utils.h"

#include "torch/csrc/jit/codegen/fuser/capture_region.h"
#include "torch/csrc/jit/codegen/fuser/graph_fuser.h"
#include "torch/csrc/jit/codegen/fuser/guards.h"
#include "torch/csrc/jit/codegen/fuser/profile_facts.h"

#include <torch/csrc/jit/ir/alias_analysis.h>

#include <random>
#include <unordered_set>

namespace torch_fuser {
namespace testing {
namespace {

using torch::jit::Node;

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

// Two squeeze-and-excitation blocks as a frozen convolutional network leaves them: conv,
// hardswish, pooled scale, residual add, a batch norm in evaluation mode (%training); the
// second block's activation and add in place, as torchvision's modules run them.
std::string convNetIR(const char* training) {
  std::string ir = R"IR(
graph(%x : Float(*, *, *, *, device=cuda:0), %w1 : Tensor, %b1 : Tensor, %w2 : Tensor,
      %b2 : Tensor, %bw : Tensor, %bb : Tensor, %rm : Tensor, %rv : Tensor, %w3 : Tensor,
      %b3 : Tensor, %w4 : Tensor, %b4 : Tensor):
  %one : int = prim::Constant[value=1]()
  %zero : int = prim::Constant[value=0]()
  %ones : int[] = prim::Constant[value=[1, 1]]()
  %zeros : int[] = prim::Constant[value=[0, 0]]()
  %training : bool = prim::Constant[value=TRAINING]()
  %on : bool = prim::Constant[value=1]()
  %momentum : float = prim::Constant[value=0.1]()
  %eps : float = prim::Constant[value=1e-05]()
  %c1 : Tensor = aten::conv2d(%x, %w1, %b1, %ones, %ones, %ones, %one)
  %h1 : Tensor = aten::hardswish(%c1)
  %p1 : Tensor = aten::adaptive_avg_pool2d(%h1, %ones)
  %s1 : Tensor = aten::conv2d(%p1, %w2, %b2, %ones, %zeros, %ones, %one)
  %g1 : Tensor = aten::hardsigmoid(%s1)
  %m1 : Tensor = aten::mul(%g1, %h1)
  %y1 : Tensor = aten::add(%x, %m1, %one)
  %n1 : Tensor = aten::batch_norm(%y1, %bw, %bb, %rm, %rv, %training, %momentum, %eps, %on)
  %c2 : Tensor = aten::conv2d(%n1, %w3, %b3, %ones, %ones, %ones, %one)
  %h2 : Tensor = aten::hardswish_(%c2)
  %p2 : Tensor = aten::adaptive_avg_pool2d(%h2, %ones)
  %s2 : Tensor = aten::conv2d(%p2, %w4, %b4, %ones, %zeros, %ones, %one)
  %g2 : Tensor = aten::hardsigmoid(%s2)
  %m2 : Tensor = aten::mul(%g2, %h2)
  %y2 : Tensor = aten::add_(%m2, %n1, %one)
  return (%y2)
)IR";
  ir.replace(ir.find("TRAINING"), 8, training);
  return ir;
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  text.replace(text.find(from), from.size(), to);
  return text;
}

// The weights (inputs 1..12) of convNetIR, 4 channels.
std::vector<at::Tensor> convNetWeights() {
  at::manual_seed(0);
  std::vector<at::Tensor> w;
  for (int block = 0; block < 2; ++block) {
    w.push_back(at::randn({4, 4, 3, 3}) * 0.3);
    w.push_back(at::randn({4}));
    w.push_back(at::randn({4, 4, 1, 1}) * 0.5);
    w.push_back(at::randn({4}));
    if (block == 0) {
      for (int k = 0; k < 2; ++k) w.push_back(at::randn({4}));
      w.push_back(at::randn({4}));
      w.push_back(at::rand({4}) + 0.5);
    }
  }
  return w;
}

// Replaces graph input `index` with a tensor constant holding `value`, defined right before
// its first use as torch.jit.freeze leaves weights, its type saying `device` (the value may
// stay on the CPU, where the node interprets). An unused input is dropped.
void makeInputAConstant(Graph& graph, size_t index, const at::Tensor& value, c10::Device device) {
  torch::jit::Value* input = graph.inputs()[index];
  if (!input->hasUses()) {
    graph.eraseInput(index);
    return;
  }
  Node* constant = graph.create(c10::prim::Constant);
  constant->t_(c10::attr::value, value);
  constant->output()->setType(c10::TensorType::create(value)->withDevice(device));
  constant->insertBefore(input->uses()[0].user);
  input->replaceAllUsesWith(constant->output());
  graph.eraseInput(index);
}

// `ir` (convNetIR) with its weight inputs made tensor constants on `devices`.
std::shared_ptr<Graph> frozen(const std::string& ir, const std::vector<c10::Device>& devices) {
  auto graph = parseIR(ir);
  const std::vector<at::Tensor> weights = convNetWeights();
  for (size_t i = weights.size(); i >= 1; --i) {
    makeInputAConstant(*graph, i, weights[i - 1], devices[i - 1]);
  }
  return graph;
}

std::vector<c10::Device> allOnCuda() {
  return std::vector<c10::Device>(12, c10::Device(c10::kCUDA, 0));
}

TEST(FusionPass, CaptureWrapsAFrozenConvNetReadingItsWeightsAsInputs) {
  FusionGuard fusion;
  const std::vector<c10::Device> on_cuda = allOnCuda();
  auto original = frozen(convNetIR("0"), on_cuda);
  auto graph = frozen(convNetIR("0"), on_cuda);
  ASSERT_TRUE(wrap(graph));
  graph->lint();
  const Node* captured = graph->outputs()[0]->node();
  ASSERT_EQ(captured->kind(), capturedGraphKind());
  const Graph& subgraph = *captured->g(c10::attr::Subgraph);
  EXPECT_EQ(countKind(subgraph, "aten::conv2d"), 4u);
  EXPECT_EQ(countKind(subgraph, "aten::batch_norm"), 1u);
  // The in-place ops write tensors the run allocated: they replay.
  EXPECT_EQ(countKind(subgraph, "aten::hardswish_"), 1u);
  EXPECT_EQ(countKind(subgraph, "aten::add_"), 1u);
  EXPECT_EQ(countKind(*graph, "aten::conv2d"), 0u);
  // The input and the twelve weights, each read where it lies.
  EXPECT_EQ(captured->inputs().size(), 13u);
  for (const torch::jit::Value* in : captured->inputs())
    EXPECT_TRUE(in->node()->isBefore(captured));
  // Where it interprets (CPU tensors) it computes what the run did.
  const std::vector<IValue> inputs = {at::randn({2, 4, 6, 6})};
  expectSameTensor(runGraph(graph, inputs)[0].toTensor(), runGraph(original, inputs)[0].toTensor(),
                   0, 0);
}

TEST(FusionPass, CaptureLeavesBatchNormsThatUpdateTheirStatisticsAndWeightsOffTheGpu) {
  std::vector<c10::Device> devices = allOnCuda();
  // In training mode the batch norm writes its running statistics: the run splits there,
  // into two halves too small to capture.
  auto training = frozen(convNetIR("1"), devices);
  EXPECT_FALSE(wrap(training));
  EXPECT_EQ(countKind(*training, "fuser::CapturedGraph"), 0u);
  // A weight on the CPU ends the run before its constant: the first block is captured, the
  // second left to the interpreter.
  devices[8] = c10::Device(c10::kCPU);
  auto graph = frozen(convNetIR("0"), devices);
  ASSERT_TRUE(wrap(graph));
  graph->lint();
  EXPECT_EQ(countKind(*graph, "fuser::CapturedGraph"), 1u);
  EXPECT_EQ(countKind(*graph, "aten::conv2d"), 2u);
  EXPECT_EQ(countKind(*graph, "aten::batch_norm"), 0u);
  // A write to the input ends the run (a replay would write the copy it reads).
  devices[8] = c10::Device(c10::kCUDA, 0);
  auto writes_input = frozen(replaced(convNetIR("0"), "%y1 : Tensor = aten::add(%x, %m1, %one)",
                                      "%y1 : Tensor = aten::add_(%x, %m1, %one)"),
                             devices);
  ASSERT_TRUE(wrap(writes_input));
  EXPECT_EQ(countKind(*writes_input, "aten::add_"), 1u);
  EXPECT_EQ(countKind(*writes_input, "aten::conv2d"), 2u);
  // So does one to a tensor that may be the input itself (contiguous returns it).
  auto writes_alias = frozen(
      replaced(
          convNetIR("0"), "%h1 : Tensor = aten::hardswish(%c1)",
          "%xc : Tensor = aten::contiguous(%x, %zero)\n  %h1 : Tensor = aten::hardswish_(%xc)"),
      devices);
  ASSERT_TRUE(wrap(writes_alias));
  EXPECT_EQ(countKind(*writes_alias, "aten::hardswish_"), 1u);
  // And one to a tensor an earlier run allocated (the run between reads it as an input).
  auto writes_earlier = frozen(replaced(convNetIR("0"), "  %n1 : Tensor",
                                        "  %k : bool = aten::Bool(%y1)\n"
                                        "  %r : Tensor = aten::relu_(%m1)\n"
                                        "  %n1 : Tensor"),
                               devices);
  ASSERT_TRUE(wrap(writes_earlier));
  EXPECT_EQ(countKind(*writes_earlier, "aten::relu_"), 1u);
  EXPECT_EQ(countKind(*writes_earlier, "aten::batch_norm"), 0u);
}

TEST(FusionPass, CaptureLetsInPlaceOpsWriteWhatAGuardedFusionGroupAllocated) {
  // The pass guards each group before capturing: prim::If(fuser::TypeGuard) { the group }
  // else { its fallback }. The residual add writes the group's result in place.
  auto graph = frozen(replaced(convNetIR("0"), "%y1 : Tensor = aten::add(%x, %m1, %one)",
                               "%y1 : Tensor = aten::add_(%m1, %x, %one)"),
                      allOnCuda());
  Node* mul = nullptr;
  for (Node* node : graph->nodes()) {
    if (node->kind() == c10::aten::mul && !mul) mul = node;
  }
  ASSERT_NE(mul, nullptr);
  Node* group = torch::jit::SubgraphUtils::createSingletonSubgraph(mul, fusionGroupKind());
  torch::jit::SubgraphUtils::mergeNodeIntoSubgraph(group->input(0)->node(), group);
  const auto cuda4d = c10::TensorType::create(at::kFloat, c10::Device(c10::kCUDA, 0),
                                              /*dim=*/size_t{4}, /*requires_grad=*/false);
  guardFusionGroup(group, std::vector<c10::TensorTypePtr>(group->inputs().size(), cuda4d));
  ASSERT_EQ(countKind(*graph, "prim::If"), 1u);
  ASSERT_TRUE(wrap(graph));
  graph->lint();
  const Node* captured = graph->outputs()[0]->node();
  ASSERT_EQ(captured->kind(), capturedGraphKind());
  EXPECT_EQ(countKind(*graph, "aten::add_"), 0u);
  EXPECT_EQ(countKind(*graph, "aten::conv2d"), 0u);
  EXPECT_EQ(countKind(*captured->g(c10::attr::Subgraph), "aten::add_"), 2u);
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

// A random straight-line program over square CUDA tensors: two inputs, two weight constants,
// pure ops, ops that may hand back their input (contiguous, eval-mode dropout, a sum to the
// size it has), a view, in-place writes to anything but a constant, and copies (ops a run
// cannot hold: they end it).
struct RandomProgram {
  std::string ir;
  int writes = 0;
};

// `pattern` with its %A and %B (where it has them) named `a` and `b`.
std::string applied(std::string pattern, const std::string& a, const std::string& b) {
  pattern = replaced(pattern, "%A", a);
  const size_t at = pattern.find("%B");
  return at == std::string::npos ? pattern : pattern.replace(at, 2, b);
}

RandomProgram randomProgram(std::mt19937& rng) {
  struct Operand {
    std::string name;
    bool constant;  // a weight or a view of one: frozen graphs never write those
  };
  std::vector<Operand> values = {{"%x0", false}, {"%x1", false}, {"%w0", true}, {"%w1", true}};
  std::string body;
  RandomProgram program;
  auto pick = [&](bool writable) -> const Operand& {
    for (;;) {
      const Operand& v = values[std::uniform_int_distribution<size_t>(0, values.size() - 1)(rng)];
      if (!writable || !v.constant) return v;
    }
  };
  auto below = [&rng](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
  const int statements = 10 + below(21);
  for (int k = 0; k < statements; ++k) {
    const std::string out = "%v" + std::to_string(k);
    const int choice = below(100);
    const Operand& a = pick(choice >= 70 && choice < 92);
    const Operand& b = pick(false);
    const std::string line = "  " + out + " : Tensor = ";
    bool constant = false;
    if (choice < 25) {
      static const char* const unary[] = {"sigmoid", "tanh", "relu", "hardswish"};
      body += line + "aten::" + unary[below(4)] + "(" + a.name + ")\n";
    } else if (choice < 50) {
      static const char* const binary[] = {"aten::add(%A, %B, %one)", "aten::mul(%A, %B)",
                                           "aten::mm(%A, %B)"};
      body += line + applied(binary[below(3)], a.name, b.name) + "\n";
    } else if (choice < 70) {
      constant = a.constant;
      switch (below(5)) {
        case 0:
          body += line + "aten::contiguous(" + a.name + ", %zero)\n";
          break;
        case 1:
          body += line + "aten::dropout(" + a.name + ", %p, %false)\n";
          break;
        case 2:
          body += line + "aten::t(" + a.name + ")\n";
          break;
        case 3:
          body += "  %s" + std::to_string(k) + " : int[] = aten::size(" + a.name + ")\n" + line +
                  "aten::sum_to_size(" + a.name + ", %s" + std::to_string(k) + ")\n";
          break;
        default:
          body += "  %s" + std::to_string(k) + " : int[] = aten::size(" + a.name + ")\n" + line +
                  "aten::_grad_sum_to_size(" + a.name + ", %s" + std::to_string(k) + ")\n";
      }
    } else if (choice < 92) {
      static const char* const in_place[] = {"aten::relu_(%A)", "aten::hardswish_(%A)",
                                             "aten::sigmoid_(%A)", "aten::add_(%A, %B, %one)",
                                             "aten::mul_(%A, %B)"};
      body += line + applied(in_place[below(5)], a.name, b.name) + "\n";
      program.writes++;
    } else {
      body += line + "aten::clone(" + a.name + ", %none)\n";
    }
    values.push_back({out, constant});
  }
  program.ir = std::string(
                   "graph(%x0 : Float(*, *, device=cuda:0), %x1 : Float(*, *, device=cuda:0),\n"
                   "      %w0 : Tensor, %w1 : Tensor):\n"
                   "  %one : int = prim::Constant[value=1]()\n"
                   "  %zero : int = prim::Constant[value=0]()\n"
                   "  %false : bool = prim::Constant[value=0]()\n"
                   "  %p : float = prim::Constant[value=0.5]()\n"
                   "  %none : NoneType = prim::Constant()\n") +
               body + "  return (" + values[values.size() - 3].name + ", " +
               values[values.size() - 2].name + ", " + values.back().name + ")\n";
  return program;
}

// Whether `v` may be (a view of) one of its graph's inputs, told by JIT's alias analysis
// independently of the pass's own rules, plus the ops whose schemas hide that they may hand
// back their input.
bool mayBeAnInput(const torch::jit::Value* v, const torch::jit::AliasDb& aliases) {
  const Node* producer = v->node();
  if (producer->kind() == c10::prim::Param) return true;
  if (producer->kind() == c10::prim::Constant && v->type()->kind() == c10::TypeKind::TensorType) {
    return true;  // a weight cloned into the run
  }
  static const std::unordered_set<std::string> hands_back_its_input = {
      "aten::dropout", "aten::sum_to_size", "aten::_grad_sum_to_size", "aten::type_as"};
  const bool hides_alias = hands_back_its_input.count(producer->kind().toQualString()) > 0;
  for (const torch::jit::Value* in : producer->inputs()) {
    if (in->type()->kind() != c10::TypeKind::TensorType) continue;
    const bool aliased = (hides_alias && in == producer->input(0)) || aliases.mayAlias(v, in);
    if (aliased && mayBeAnInput(in, aliases)) return true;
  }
  return false;
}

// The arguments `node` writes, by its schema.
std::vector<const torch::jit::Value*> writtenArguments(const Node* node) {
  std::vector<const torch::jit::Value*> written;
  const c10::FunctionSchema* schema = node->maybeSchema();
  if (!schema) return written;
  for (size_t i = 0; i < schema->arguments().size() && i < node->inputs().size(); ++i) {
    const c10::AliasInfo* alias = schema->arguments()[i].alias_info();
    if (alias && alias->isWrite()) written.push_back(node->input(i));
  }
  return written;
}

bool sameValues(const at::Tensor& actual, const at::Tensor& expected) {
  return actual.sizes() == expected.sizes() &&
         at::isclose(actual, expected, 0, 0, /*equal_nan=*/true).all().item<bool>();
}

// Makes every tensor a captured node's subgraph writes in place a result of the node, and
// the node's tensor inputs and those results outputs of `graph`, after its own outputs.
// Returns, per captured node, the output positions of its inputs and of what it writes.
std::vector<std::pair<std::vector<size_t>, std::vector<size_t>>> exposeWrites(Graph& graph) {
  std::vector<std::pair<std::vector<size_t>, std::vector<size_t>>> exposed;
  for (Node* node : graph.nodes()) {
    if (node->kind() != capturedGraphKind()) continue;
    Graph& subgraph = *node->g(c10::attr::Subgraph);
    std::vector<torch::jit::Value*> written;
    for (const Node* inner : subgraph.nodes()) {
      for (const torch::jit::Value* target : writtenArguments(inner)) {
        written.push_back(const_cast<torch::jit::Value*>(target));
      }
    }
    std::pair<std::vector<size_t>, std::vector<size_t>> positions;
    for (torch::jit::Value* in : node->inputs()) {
      if (in->type()->kind() != c10::TypeKind::TensorType) continue;
      positions.first.push_back(graph.registerOutput(in));
    }
    for (torch::jit::Value* target : written) {
      subgraph.registerOutput(target);
      positions.second.push_back(graph.registerOutput(node->addOutput()->setType(target->type())));
    }
    exposed.push_back(std::move(positions));
  }
  return exposed;
}

TEST(FusionPass, CaptureOfRandomProgramsNeverWritesWhatTheCallerHolds) {
  // A replay writes the capture's own memory: an in-place op inside a captured run must
  // only write tensors the run allocated, never an input, a weight or a view of either (the
  // caller's tensor would be left unwritten). Checked twice: by JIT's alias analysis on the
  // captured subgraph, and at run time by the memory each written tensor lies in. And where
  // it interprets, the wrapped program computes what the original did, inputs included.
  FusionGuard fusion;
  std::mt19937 rng(20261202);
  int wrapped = 0;
  int captured_writes = 0;
  const int cases = 300;
  for (int c = 0; c < cases; ++c) {
    const RandomProgram program = randomProgram(rng);
    SCOPED_TRACE(program.ir);
    std::vector<std::shared_ptr<Graph>> graphs;
    for (int copy = 0; copy < 2; ++copy) {
      graphs.push_back(parseIR(program.ir));
      at::manual_seed(c);
      const at::Tensor w0 = at::randn({3, 3});
      const at::Tensor w1 = at::randn({3, 3});
      makeInputAConstant(*graphs.back(), 3, w1, c10::Device(c10::kCUDA, 0));
      makeInputAConstant(*graphs.back(), 2, w0, c10::Device(c10::kCUDA, 0));
    }
    const std::shared_ptr<Graph>& graph = graphs[1];
    // The pass wraps one run; wrapping again takes the next, so every run gets checked.
    int runs = 0;
    while (runs < 4 && wrap(graph)) ++runs;
    if (runs == 0) continue;
    wrapped++;
    graph->lint();
    for (const Node* node : graph->nodes()) {
      if (node->kind() != capturedGraphKind()) continue;
      const std::shared_ptr<Graph> subgraph = node->g(c10::attr::Subgraph);
      const torch::jit::AliasDb aliases(subgraph);
      for (const Node* inner : subgraph->nodes()) {
        for (const torch::jit::Value* target : writtenArguments(inner)) {
          captured_writes++;
          EXPECT_FALSE(mayBeAnInput(target, aliases))
              << "a replay would write a copy of the caller's tensor: " << *inner;
        }
      }
    }
    at::manual_seed(1000 + c);
    const at::Tensor x0 = at::randn({3, 3});
    const at::Tensor x1 = at::randn({3, 3});
    std::vector<IValue> original_inputs = {x0.clone(), x1.clone()};
    std::vector<IValue> wrapped_inputs = {x0.clone(), x1.clone()};
    // At run time, whatever the schemas say: no tensor a captured node writes shares memory
    // with one it was handed.
    const auto exposed = exposeWrites(*graph);
    const std::vector<IValue> expected = runGraph(graphs[0], original_inputs);
    const std::vector<IValue> actual = runGraph(graph, wrapped_inputs);
    ASSERT_GE(actual.size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_TRUE(sameValues(actual[i].toTensor(), expected[i].toTensor())) << "result " << i;
    }
    for (const auto& node : exposed) {
      for (size_t w : node.second) {
        for (size_t in : node.first) {
          EXPECT_FALSE(actual[w].toTensor().is_alias_of(actual[in].toTensor()))
              << "a captured node writes memory it was handed (output " << w << ", input " << in
              << ")";
        }
      }
    }
    for (size_t i = 0; i < 2; ++i) {
      EXPECT_TRUE(sameValues(wrapped_inputs[i].toTensor(), original_inputs[i].toTensor()))
          << "input " << i << " after the call";
    }
  }
  // Not vacuous: many programs are captured, with in-place writes inside.
  EXPECT_GE(wrapped, cases / 4);
  EXPECT_GE(captured_writes, cases / 4);
}

}  // namespace
}  // namespace testing
}  // namespace torch_fuser
