#include "torch/csrc/jit/codegen/fuser/capture_region.h"

#include "torch/csrc/jit/codegen/fuser/graph_fuser.h"
#include "torch/csrc/jit/codegen/fuser/guards.h"
#include "torch/csrc/jit/codegen/fuser/profile_facts.h"
#include "torch/csrc/jit/codegen/fuser/size_bookkeeping.h"

#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/jit_log.h>

#include <algorithm>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace torch_fuser {

using torch::jit::Block;
using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;

c10::Symbol capturedGraphKind() {
  static const c10::Symbol kind = c10::Symbol::fromQualString("fuser::CapturedGraph");
  return kind;
}

c10::Symbol captureBarrierKind() {
  static const c10::Symbol kind = c10::Symbol::fromQualString("fuser::CaptureBarrier");
  return kind;
}

namespace {

// Fewer kernels than this (outside loops) do not pay for a replay's copies.
constexpr int64_t kMinLaunches = 8;
// A loop counts as this many launches per launch of its body.
constexpr int64_t kLoopWeight = 16;

c10::Symbol aten(const char* name) {
  return c10::Symbol::fromQualString(std::string("aten::") + name);
}

// Device work whose launches depend only on their inputs' metadata and scalars.
const std::unordered_set<c10::Symbol>& deviceOps() {
  static const std::unordered_set<c10::Symbol> ops = [] {
    std::unordered_set<c10::Symbol> s;
    for (const char* name :
         {"mm", "matmul", "addmm", "bmm", "baddbmm", "linear", "sum", "mean", "_grad_sum_to_size",
          "sum_to_size", "zeros_like", "ones_like", "add", "sub", "rsub", "mul", "div", "neg",
          "sigmoid", "tanh", "relu", "gelu", "exp", "log", "pow", "where", "clamp", "softmax",
          "_softmax", "log_softmax", "_log_softmax", "reciprocal", "sqrt", "rsqrt", "abs",
          "threshold_backward", "gelu_backward", "sigmoid_backward", "tanh_backward",
          "_softmax_backward_data", "layer_norm", "native_layer_norm", "native_layer_norm_backward",
          "stack", "cat", "contiguous",
          // Convolutional networks (frozen for inference: weights are
          // tensor constants, batch norms folded or in eval mode).
          "conv1d", "conv2d", "conv3d", "convolution", "_convolution", "conv_transpose1d",
          "conv_transpose2d", "conv_transpose3d", "batch_norm", "group_norm", "hardswish",
          "hardsigmoid", "hardtanh", "relu6", "silu", "mish", "elu", "leaky_relu",
          "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d", "avg_pool1d",
          "avg_pool2d", "avg_pool3d", "max_pool1d", "max_pool2d", "max_pool3d", "dropout"}) {
      s.insert(aten(name));
    }
    s.insert(fusionGroupKind());
    s.insert(c10::prim::MMTreeReduce);
    s.insert(c10::prim::MMBatchSide);
    s.insert(c10::prim::AutogradAdd);
    return s;
  }();
  return ops;
}

// Views and other ops that launch nothing.
const std::unordered_set<c10::Symbol>& viewOps() {
  static const std::unordered_set<c10::Symbol> ops = [] {
    std::unordered_set<c10::Symbol> s;
    for (const char* name : {"t", "transpose", "permute", "view", "reshape", "select", "slice",
                             "narrow", "chunk", "split", "split_with_sizes", "unbind", "unsqueeze",
                             "squeeze", "expand", "expand_as", "flatten"}) {
      s.insert(aten(name));
    }
    s.insert(c10::prim::ConstantChunk);
    return s;
  }();
  return ops;
}

// Ops that read tensors' metadata (never their data) into host values.
const std::unordered_set<c10::Symbol>& metadataOps() {
  static const std::unordered_set<c10::Symbol> ops = [] {
    std::unordered_set<c10::Symbol> s;
    for (const char* name :
         {"size", "dim", "numel", "len", "__is__", "__isnot__", "_size_if_not_equal"}) {
      s.insert(aten(name));
    }
    for (c10::Symbol kind :
         {c10::prim::AutogradAnyNonZero, c10::prim::AutogradAllZero, c10::prim::AutogradAllNonZero,
          c10::prim::BroadcastSizes, c10::prim::ChunkSizes, c10::prim::AutogradZero,
          c10::prim::RequiresGradCheck, typeGuardKind(), sizesKind()}) {
      s.insert(kind);
    }
    return s;
  }();
  return ops;
}

// Host bookkeeping on scalars, lists and tuples, and control flow.
const std::unordered_set<c10::Symbol>& hostOps() {
  static const std::unordered_set<c10::Symbol> ops = [] {
    std::unordered_set<c10::Symbol> s;
    for (const char* name : {"add",     "sub",       "mul", "floordiv", "__round_to_zero_floordiv",
                             "div",     "remainder", "neg", "eq",       "ne",
                             "lt",      "le",        "gt",  "ge",       "__not__",
                             "__and__", "__or__",    "min", "max",      "__getitem__",
                             "len",     "append",    "all", "any",      "list_with_default"}) {
      s.insert(aten(name));
    }
    for (c10::Symbol kind :
         {c10::prim::Constant, c10::prim::ListConstruct, c10::prim::ListUnpack,
          c10::prim::TupleConstruct, c10::prim::TupleUnpack, c10::prim::TupleIndex, c10::prim::If,
          c10::prim::Loop, c10::prim::RaiseException, c10::prim::Uninitialized,
          c10::prim::unchecked_cast, c10::prim::FallbackGraph}) {
      s.insert(kind);
    }
    return s;
  }();
  return ops;
}

bool holdsTensors(const c10::TypePtr& type);

// A constant the subgraph can hold too (a tensor constant may live on the CPU: it enters
// as an input, checked on each call).
bool isHostConstant(const Node* node) {
  return node->kind() == c10::prim::Constant && !holdsTensors(node->output()->type());
}

// A CUDA tensor constant (a frozen module's weights): it stays outside the run, moved before
// it, and enters as an input read where it lies. Constants on other devices end a run.
// Its device is the one its type says, else its value's (frozen graphs type constants
// plain Tensor).
bool isCudaTensorConstant(const Node* node) {
  if (node->kind() != c10::prim::Constant) return false;
  const auto type = node->output()->type()->cast<c10::TensorType>();
  if (!type) return false;
  if (type->device()) return type->device()->is_cuda();
  const c10::optional<c10::IValue> value = torch::jit::toIValue(node->output());
  return value && value->isTensor() && value->toTensor().is_cuda();
}

// aten::batch_norm writes its running statistics in training mode, which its schema does
// not say; in evaluation mode it only reads them.
bool updatesRunningStats(const Node* node) {
  if (node->kind() != c10::aten::batch_norm) return false;
  const c10::optional<bool> training = torch::jit::constant_as<bool>(node->input(5));
  return !training || *training;
}

bool holdsTensors(const c10::TypePtr& type) {
  if (type->kind() == c10::TensorType::Kind) return true;
  for (const c10::TypePtr& contained : type->containedTypes()) {
    if (holdsTensors(contained)) return true;
  }
  return false;
}

// What may cross the node's boundary: tensors and what the replay guard compares by value;
// results may also be tuples of those (a backward graph returns one).
bool crossesBoundary(const c10::TypePtr& type, bool result = false) {
  if (auto optional = type->cast<c10::OptionalType>()) {
    return crossesBoundary(optional->getElementType(), result);
  }
  switch (type->kind()) {
    case c10::TupleType::Kind: {
      if (!result) return false;
      const auto elements = type->containedTypes();
      return std::all_of(elements.begin(), elements.end(),
                         [](const c10::TypePtr& t) { return crossesBoundary(t, true); });
    }
    case c10::TensorType::Kind:
    case c10::IntType::Kind:
    case c10::FloatType::Kind:
    case c10::BoolType::Kind:
    case c10::NoneType::Kind:
      return true;
    case c10::ListType::Kind:
      return type->expectRef<c10::ListType>().getElementType()->kind() == c10::IntType::Kind;
    default:
      return false;
  }
}

bool writesAnArgument(const Node* node) {
  const c10::FunctionSchema* schema = node->maybeSchema();
  if (!schema) return false;
  for (const c10::Argument& argument : schema->arguments()) {
    if (argument.alias_info() && argument.alias_info()->isWrite()) return true;
  }
  return false;
}

bool hasTensorInput(const Node* node) {
  return std::any_of(node->inputs().begin(), node->inputs().end(),
                     [](const Value* v) { return holdsTensors(v->type()); });
}

bool onlyTensorOutputs(const Node* node) {
  return std::all_of(node->outputs().begin(), node->outputs().end(),
                     [](const Value* v) { return v->type()->kind() == c10::TensorType::Kind; });
}

bool hasTensorOutput(const Node* node) {
  return std::any_of(node->outputs().begin(), node->outputs().end(),
                     [](const Value* v) { return holdsTensors(v->type()); });
}

// Kernels the node launches on each run (loops weighted), or -1 where a replay could
// differ from running it.
int64_t launchesOf(const Block* block);

bool drawsRandomNumbers(const Block* block) {
  for (const Node* node : block->nodes()) {
    if (node->isNondeterministic()) return true;
    for (const Block* nested : node->blocks()) {
      if (drawsRandomNumbers(nested)) return true;
    }
    if (node->hasAttribute(c10::attr::Subgraph) &&
        drawsRandomNumbers(node->g(c10::attr::Subgraph)->block())) {
      return true;
    }
  }
  return false;
}

int64_t launchesOf(const Node* node) {
  const c10::Symbol kind = node->kind();
  if (node->isNondeterministic()) return -1;
  if (node->hasAttribute(c10::attr::Subgraph) &&
      drawsRandomNumbers(node->g(c10::attr::Subgraph)->block())) {
    return -1;
  }
  if (kind == c10::prim::Constant) {
    return node->output()->type()->kind() == c10::TensorType::Kind ? -1 : 0;
  }
  if (kind == c10::aten::append) {
    // Only to a list built here (boundaryCrossable keeps the run's inputs unwritten).
    return node->input(0)->node()->kind() == c10::prim::ListConstruct ? 0 : -1;
  }
  // Identity of tensors is not part of a replay's signature (and copied inputs lose it).
  if ((kind == c10::aten::__is__ || kind == c10::aten::__isnot__) && hasTensorInput(node)) {
    return -1;
  }
  if (writesAnArgument(node) || updatesRunningStats(node)) return -1;
  int64_t own = 0;
  if (metadataOps().count(kind) || viewOps().count(kind)) {
    own = 0;
  } else if (deviceOps().count(kind) && onlyTensorOutputs(node)) {
    own = 1;
  } else if (deviceOps().count(kind) && hasTensorOutput(node)) {
    return -1;  // an overload returning a list of tensors: sized by data (where(condition))
  } else if (hostOps().count(kind)) {
    // An aten op taking tensors to host values only (Bool, eq of lists...) may read data.
    if (kind.is_aten() && hasTensorInput(node) && !hasTensorOutput(node)) return -1;
  } else {
    return -1;
  }
  if (kind == c10::prim::FallbackGraph) return 0;  // inlined behind a barrier (wrap)
  int64_t nested = 0;
  for (const Block* block : node->blocks()) {
    const int64_t launches = launchesOf(block);
    if (launches < 0) return -1;
    nested += launches;
  }
  return own + (kind == c10::prim::Loop ? kLoopWeight * nested : nested);
}

int64_t launchesOf(const Block* block) {
  int64_t total = 0;
  for (const Node* node : block->nodes()) {
    const int64_t launches = launchesOf(node);
    if (launches < 0) return -1;
    total += launches;
  }
  return total;
}

bool containsLoop(const Node* node) {
  if (node->kind() == c10::prim::Loop) return true;
  for (const Block* block : node->blocks()) {
    for (const Node* inner : block->nodes()) {
      if (containsLoop(inner)) return true;
    }
  }
  return false;
}

struct Run {
  std::vector<Node*> nodes;
  int64_t launches = 0;
  bool loop = false;
};

bool inRun(const Node* node, const std::unordered_set<const Node*>& members) {
  // A use inside a nested block belongs to the top-level node owning that block.
  while (node && !members.count(node)) {
    const Block* block = node->owningBlock();
    node = block ? block->owningNode() : nullptr;
  }
  return node != nullptr;
}

// Values the run reads from before it and values read after it.
void boundaryOf(const Run& run, std::vector<Value*>* inputs, std::vector<Value*>* outputs) {
  const std::unordered_set<const Node*> members(run.nodes.begin(), run.nodes.end());
  std::unordered_set<const Value*> seen;
  auto readInput = [&](Value* v) {
    if (inRun(v->node(), members) || isHostConstant(v->node())) return;
    if (seen.insert(v).second) inputs->push_back(v);
  };
  for (Node* node : run.nodes) {
    for (Value* v : node->inputs()) readInput(v);
    std::vector<Block*> nested(node->blocks().begin(), node->blocks().end());
    while (!nested.empty()) {
      Block* block = nested.back();
      nested.pop_back();
      for (Node* inner : block->nodes()) {
        for (Value* v : inner->inputs()) readInput(v);
        for (Block* b : inner->blocks()) nested.push_back(b);
      }
      for (Value* v : block->outputs()) readInput(v);
    }
    for (Value* out : node->outputs()) {
      const bool read_after =
          std::any_of(out->uses().begin(), out->uses().end(),
                      [&](const torch::jit::Use& use) { return !inRun(use.user, members); });
      if (read_after) outputs->push_back(out);
    }
  }
}

bool appendedTo(const Value* v) {
  return std::any_of(v->uses().begin(), v->uses().end(), [](const torch::jit::Use& use) {
    return use.user->kind() == c10::aten::append && use.offset == 0;
  });
}

bool boundaryCrossable(const Run& run) {
  std::vector<Value*> inputs;
  std::vector<Value*> outputs;
  boundaryOf(run, &inputs, &outputs);
  // A replay would skip appends to a list from outside.
  if (std::any_of(inputs.begin(), inputs.end(), appendedTo)) return false;
  return std::all_of(inputs.begin(), inputs.end(),
                     [](const Value* v) { return crossesBoundary(v->type()); }) &&
         std::all_of(outputs.begin(), outputs.end(),
                     [](const Value* v) { return crossesBoundary(v->type(), true); });
}

// The run's profiled tensors are all on CUDA (and some are).
bool onCudaOnly(const Run& run, const ProfileFacts& facts) {
  bool cuda = false;
  auto note = [&](const Value* v) {
    if (v->type()->kind() != c10::TensorType::Kind) return true;
    const c10::optional<c10::Device> device = facts.device(v);
    if (!device) return true;
    cuda = cuda || device->is_cuda();
    return device->is_cuda();
  };
  for (const Node* node : run.nodes) {
    std::vector<const Node*> pending{node};
    while (!pending.empty()) {
      const Node* n = pending.back();
      pending.pop_back();
      for (const Value* v : n->inputs()) {
        if (!note(v)) return false;
      }
      for (const Value* v : n->outputs()) {
        if (!note(v)) return false;
      }
      for (const Block* b : n->blocks()) {
        for (const Node* inner : b->nodes()) pending.push_back(inner);
      }
    }
  }
  return cuda;
}

// Trailing nodes whose results cannot cross (the tuple a function returns) stay after it.
void trimTail(Run* run) {
  while (!run->nodes.empty() && !boundaryCrossable(*run)) {
    const Node* last = run->nodes.back();
    const bool blocks_crossing =
        std::any_of(last->outputs().begin(), last->outputs().end(),
                    [](const Value* v) { return !crossesBoundary(v->type(), true); });
    if (!blocks_crossing) return;
    run->nodes.pop_back();
  }
}

// Ops that may hand back their input itself: those whose schema declares the alias
// (contiguous, to, reshape, views), and those whose schema does not although they do
// (eval-mode dropout, a sum to the size it has, a cast to the dtype it has).
bool mayReturnItsInput(const Node* node) {
  static const std::unordered_set<c10::Symbol> undeclared = {
      aten("dropout"), aten("_grad_sum_to_size"), aten("sum_to_size"), aten("type_as")};
  if (!node->kind().is_aten() || undeclared.count(node->kind())) return true;
  const c10::FunctionSchema* schema = node->maybeSchema();
  if (!schema) return true;
  return std::any_of(schema->returns().begin(), schema->returns().end(),
                     [](const c10::Argument& r) { return r.alias_info() != nullptr; });
}

// Each result of the subgraph (a fusion group's or its fallback's) comes from an op that
// allocates it: the group's kernel allocates its outputs, and where it falls back the
// subgraph's ops run.
bool subgraphReturnsFresh(const Graph& subgraph) {
  return std::all_of(subgraph.outputs().begin(), subgraph.outputs().end(), [](const Value* v) {
    return v->node()->kind() != c10::prim::Param && !mayReturnItsInput(v->node());
  });
}

bool isGroupOrFallback(const Node* node) {
  return node->kind() == fusionGroupKind() || node->kind() == c10::prim::FallbackGraph;
}

// A fusion group behind its guard (guards.h) whose results are fresh on both branches.
bool isGuardedGroupReturningFresh(const Node* node) {
  if (!isTypeGuardedIf(node)) return false;
  for (const Block* block : node->blocks()) {
    for (const Value* out : block->outputs()) {
      const Node* producer = out->node();
      if (producer->owningBlock() != block || !isGroupOrFallback(producer) ||
          !subgraphReturnsFresh(*producer->g(c10::attr::Subgraph))) {
        return false;
      }
    }
  }
  return true;
}

// The node's tensors are new ones it allocated: a write to them touches nothing from
// outside the run.
bool returnsFreshTensors(const Node* node) {
  if (!onlyTensorOutputs(node)) return false;
  if (isGuardedGroupReturningFresh(node)) return true;
  if (!deviceOps().count(node->kind()) || !node->blocks().empty()) return false;
  if (node->kind() == fusionGroupKind()) return subgraphReturnsFresh(*node->g(c10::attr::Subgraph));
  return !mayReturnItsInput(node);
}

// An in-place device op (relu_, hardswish_, add_: what torchvision's modules call) writing
// only tensors the run allocated itself: a replay repeats the write on the capture's own
// memory, as the interpreter would on its.
bool writesOnlyFreshTensors(const Node* node, const std::unordered_set<const Value*>& fresh) {
  const c10::FunctionSchema* schema = node->maybeSchema();
  const std::string name = node->kind().toUnqualString();
  if (!schema || !node->kind().is_aten() || name.size() < 2 || name.back() != '_') return false;
  const c10::Symbol functional = aten(name.substr(0, name.size() - 1).c_str());
  if (!deviceOps().count(functional) || functional == aten("dropout")) return false;
  if (node->isNondeterministic() || !node->blocks().empty() || !onlyTensorOutputs(node)) {
    return false;
  }
  const std::vector<c10::Argument>& arguments = schema->arguments();
  for (size_t i = 0; i < arguments.size() && i < node->inputs().size(); ++i) {
    const bool written = arguments[i].alias_info() && arguments[i].alias_info()->isWrite();
    if (written && !fresh.count(node->input(i))) return false;
  }
  return true;
}

std::vector<Run> runsOf(Block* block) {
  std::vector<Run> runs(1);
  std::unordered_set<const Value*> fresh;  // tensors the current run allocated
  for (Node* node : block->nodes()) {
    // Constants stay where they are: the run clones host ones, reads tensor ones as inputs.
    if (isHostConstant(node) || isCudaTensorConstant(node)) continue;
    const bool writes_fresh = writesOnlyFreshTensors(node, fresh);
    const int64_t launches = writes_fresh ? 1 : launchesOf(node);
    if (launches < 0) {
      GRAPH_DEBUG("A capture run ends at ", *node);
      if (!runs.back().nodes.empty()) runs.emplace_back();
      fresh.clear();
      continue;
    }
    if (writes_fresh || returnsFreshTensors(node)) {
      fresh.insert(node->outputs().begin(), node->outputs().end());
    }
    runs.back().nodes.push_back(node);
    runs.back().launches += launches;
    runs.back().loop = runs.back().loop || (containsLoop(node) && launches > 0);
  }
  return runs;
}

void inlineFallbacks(Block* block) {
  for (auto it = block->nodes().begin(); it != block->nodes().end();) {
    Node* node = *it;
    ++it;
    for (Block* nested : node->blocks()) inlineFallbacks(nested);
    if (node->kind() != c10::prim::FallbackGraph) continue;
    torch::jit::WithInsertPoint insert(node);
    node->owningGraph()->insertNode(node->owningGraph()->create(captureBarrierKind(), {}, 0));
    const std::vector<Value*> results = torch::jit::insertGraph(
        *node->owningGraph(), *node->g(c10::attr::Subgraph), node->inputs());
    for (size_t i = 0; i < results.size(); ++i) node->output(i)->replaceAllUsesWith(results[i]);
    node->destroy();
  }
}

void wrap(Graph& graph, const Run& run) {
  std::vector<Value*> inputs;
  std::vector<Value*> outputs;
  boundaryOf(run, &inputs, &outputs);

  auto subgraph = std::make_shared<Graph>();
  std::unordered_map<Value*, Value*> env;
  for (Value* in : inputs) env[in] = subgraph->addInput()->copyMetadata(in);
  auto lookup = [&](Value* v) -> Value* {
    auto found = env.find(v);
    if (found != env.end()) return found->second;
    TORCH_INTERNAL_ASSERT(isHostConstant(v->node()),
                          "capture: a value from before the run that is not one of its inputs: %",
                          v->debugName());
    Node* constant = subgraph->insertNode(subgraph->createClone(v->node(), nullptr));
    env[v] = constant->output();
    return constant->output();
  };
  for (Node* node : run.nodes) {
    Node* copy = subgraph->insertNode(subgraph->createClone(node, lookup));
    for (size_t i = 0; i < node->outputs().size(); ++i) env[node->output(i)] = copy->output(i);
  }
  for (Value* out : outputs) subgraph->registerOutput(env.at(out));
  inlineFallbacks(subgraph->block());

  // Tensor constants defined between the run's nodes must come before the node reading them.
  for (Value* in : inputs) {
    if (isCudaTensorConstant(in->node()) && run.nodes.front()->isBefore(in->node())) {
      in->node()->moveBefore(run.nodes.front());
    }
  }
  torch::jit::WithInsertPoint insert(run.nodes.front());
  Node* captured = graph.insertNode(graph.create(capturedGraphKind(), inputs, 0));
  captured->g_(c10::attr::Subgraph, subgraph);
  for (Value* out : outputs) {
    Value* result = captured->addOutput()->copyMetadata(out);
    out->replaceAllUsesWith(result);
  }
  for (auto it = run.nodes.rbegin(); it != run.nodes.rend(); ++it) (*it)->destroy();
  GRAPH_UPDATE("Wrapped ", run.nodes.size(), " nodes (", run.launches,
               " launches) for CUDA graph capture");
}

}  // namespace

bool wrapCapturableRun(const std::shared_ptr<Graph>& graph, const ProfileFacts& facts) {
  std::vector<Run> runs = runsOf(graph->block());
  Run* best = nullptr;
  for (Run& run : runs) {
    trimTail(&run);
    if (run.nodes.empty()) continue;
    if (!boundaryCrossable(run)) {
      GRAPH_DEBUG("Not captured: a run of ", run.nodes.size(), " nodes passes other values");
      continue;
    }
    if (!run.loop && run.launches < kMinLaunches) {
      GRAPH_DEBUG("Not captured: a run of ", run.launches, " launches");
      continue;
    }
    if (!onCudaOnly(run, facts)) {
      GRAPH_DEBUG("Not captured: a run with tensors not profiled on CUDA");
      continue;
    }
    if (!best || run.launches > best->launches) best = &run;
  }
  if (!best) return false;
  wrap(*graph, *best);
  return true;
}

}  // namespace torch_fuser
