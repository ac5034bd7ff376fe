#include "torch/csrc/jit/codegen/fuser/fusion_state.h"

#include "torch/csrc/jit/codegen/fuser/compiler.h"
#include "torch/csrc/jit/codegen/fuser/explain.h"
#include "torch/csrc/jit/codegen/fuser/lowering.h"
#include "torch/csrc/jit/codegen/fuser/op_table.h"

#include <ATen/ExpandUtils.h>
#include <torch/csrc/jit/ir/alias_analysis.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>

namespace torch_fuser {

using torch::jit::AliasDb;
using torch::jit::Block;
using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;

namespace {

bool isNumberType(const c10::TypePtr& type) {
  return type->kind() == c10::TypeKind::FloatType || type->kind() == c10::TypeKind::IntType ||
         type->kind() == c10::TypeKind::BoolType || type->kind() == c10::TypeKind::NumberType;
}

void recordBlock(const FusionState& state, Block* block, ExplainRecorder::GraphVerdicts& verdicts) {
  for (Node* node : block->nodes()) {
    for (Block* sub : node->blocks()) recordBlock(state, sub, verdicts);
    if (isGroup(node)) {
      const std::shared_ptr<Graph>& subgraph = node->g(c10::attr::Subgraph);
      const auto index = static_cast<int64_t>(verdicts.groups.size());
      verdicts.groups.push_back(subgraph->copy());
      for (const Node* inner : subgraph->nodes()) {
        if (ExplainRecorder::isReported(inner)) {
          verdicts.nodes.push_back(ExplainRecorder::describe(*inner, index, "", nullptr));
        }
      }
    } else if (ExplainRecorder::isReported(node)) {
      const c10::TensorTypePtr type =
          node->outputs().empty() ? nullptr : state.facts().type(node->output(0));
      verdicts.nodes.push_back(ExplainRecorder::describe(*node, -1, state.whyLeftOut(node), type));
    }
  }
}

}  // namespace

FusionState::FusionState(std::shared_ptr<Graph> graph, FusionTargets targets)
    : graph_(std::move(graph)), targets_(targets), facts_(*graph_->block()) {}

FusionState::~FusionState() = default;

AliasDb& FusionState::aliasDb() const {
  TORCH_INTERNAL_ASSERT(alias_db_, "the pass read alias analysis before building it");
  return *alias_db_;
}

void FusionState::rebuildAliasDb() {
  alias_db_ = std::make_unique<AliasDb>(graph_);
}

std::string FusionState::whyValueRefused(const Value* v) const {
  const c10::TensorTypePtr type = facts_.type(v);
  if (!type) return {};
  if (type->scalarType() && !isSupportedInputDtype(*type->scalarType())) {
    return std::string("dtype ") + c10::toString(*type->scalarType()) +
           " is outside the fuser's dtypes";
  }
  const c10::optional<c10::Device> device = facts_.device(v);
  if (!device) return {};  // decided per call; other devices fall back
  if (device->is_cpu()) return targets_.cpu ? "" : "device cpu is disabled (enable(cpu=False))";
  if (device->is_cuda()) {
    if (!targets_.cuda) return "device cuda is disabled (enable(cuda=False))";
    return backendAvailable(c10::DeviceType::CUDA) ? "" : "no CUDA backend in this build";
  }
  return "device " + device->str() + " has no fuser backend";
}

std::string FusionState::whyNotFusible(const Node* node) const {
  if (node->outputs().size() != 1 || !node->output()->type()->cast<c10::TensorType>()) {
    return "not an op with one tensor result";
  }
  if (isSumToSize(node)) return whyNotFusibleSumToSize(node);
  const FusibleOp* op = findFusibleOp(node);
  if (!op) return "not in the op table (this schema)";
  if (op->converts()) {
    std::string why = whyConversionNotFusible(node, op->pattern);
    if (!why.empty()) return why;
  }
  if (op->pattern == LoweringPattern::kRandLike) {
    // Only CUDA kernels generate random numbers (see lowering.h).
    const c10::optional<c10::Device> device = randomDevice(node);
    if (!device || !device->is_cuda()) return "random numbers are fused on CUDA only";
  }
  for (const Value* input : node->inputs()) {
    const c10::TypePtr& type = input->type();
    if (type->cast<c10::TensorType>()) {
      std::string why = whyValueRefused(input);
      if (!why.empty()) return why;
    } else if (input->node()->kind() != c10::prim::Constant && !isNumberType(type)) {
      // e.g. a non-constant Optional bound of clamp
      return "an argument is neither a tensor, a number nor a constant";
    }
  }
  return whyValueRefused(node->output());
}

// Conversions (to(), autocast's casts) are fused with constant arguments only: a kernel's
// dtypes are fixed when it is generated, and it runs on one device.
std::string FusionState::whyConversionNotFusible(const Node* node, LoweringPattern pattern) const {
  for (const Value* argument : node->inputs().slice(1)) {
    if (argument->node()->kind() != c10::prim::Constant) {
      return "its dtype or device is known only at run time (a kernel's are fixed when generated)";
    }
  }
  if (pattern == LoweringPattern::kToDevice) {
    const c10::IValue target = *torch::jit::toIValue(node->input(1));
    if (!target.isNone()) {
      const c10::Device device = target.toDevice();
      // "cuda" names the current device, which may change between calls.
      if (device.is_cuda() && !device.has_index()) {
        return "to() a CUDA device without an index (the current device, per call)";
      }
      const c10::optional<c10::Device> from = facts_.device(node->input(0));
      if (from && *from != device) return "to() another device: a copy between devices";
    }
  }
  // The conversion may return its input itself; a fused one is always a fresh tensor,
  // which only matters when either is written afterwards. (Before alias analysis exists,
  // while profile nodes are dropped, this check is not needed.)
  if (alias_db_ &&
      (alias_db_->hasWriters(node->input(0)) || alias_db_->hasWriters(node->output()))) {
    return "aliasing: its input or result is written, and a fused conversion always copies";
  }
  return {};
}

// The device a rand_like draws on: its self's, or where no profile tells (self read by
// nothing else, e.g. an input only its shape is taken from), the device of the tensors
// its result is combined with. A hint: a kernel whose tensors turn out to be on several
// devices falls back.
c10::optional<c10::Device> FusionState::randomDevice(const Node* node) const {
  if (const c10::optional<c10::Device> device = facts_.device(node->input(0))) return device;
  if (const c10::optional<c10::Device> device = facts_.device(node->output())) return device;
  for (const torch::jit::Use& use : node->output()->uses()) {
    for (const Value* operand : use.user->inputs()) {
      if (operand == node->output()) continue;
      if (const c10::optional<c10::Device> device = facts_.device(operand)) return device;
    }
  }
  return c10::nullopt;
}

// _grad_sum_to_size(x, size), autodiff's reduction of a broadcast gradient: fused with a
// constant size or an int[]? value, read per call (see isSumToSize in lowering.h). Not
// when x or the result is written: the op may return x itself, a kernel never does.
std::string FusionState::whyNotFusibleSumToSize(const Node* node) const {
  const Value* size = node->input(1);
  if (size->node()->kind() != c10::prim::Constant && !isSizeList(size)) {
    return "its size is neither a constant nor an int[]? value";
  }
  if (alias_db_ &&
      (alias_db_->hasWriters(node->input(0)) || alias_db_->hasWriters(node->output()))) {
    return "aliasing: its input or result is written, and a kernel always writes a new tensor";
  }
  std::string why = whyValueRefused(node->input(0));
  return why.empty() ? whyValueRefused(node->output()) : why;
}

c10::optional<std::vector<int64_t>> FusionState::knownBroadcast(
    const std::vector<const Value*>& values) const {
  std::vector<int64_t> shape;
  for (const Value* v : values) {
    const c10::optional<std::vector<int64_t>> sizes = facts_.sizes(v);
    if (!sizes) return c10::nullopt;
    try {
      shape = at::infer_size(shape, *sizes);
    } catch (const c10::Error&) {
      return c10::nullopt;
    }
  }
  return shape;
}

c10::optional<c10::Device> FusionState::deviceOf(const Node* node) const {
  for (const Value* v : node->inputs()) {
    if (const c10::optional<c10::Device> device = facts_.device(v)) return device;
  }
  return c10::nullopt;
}

int FusionState::minGroupSize(const c10::optional<c10::Device>& device) const {
  if (!device) return std::max(targets_.min_group_size_cpu, targets_.min_group_size_cuda);
  return device->is_cuda() ? targets_.min_group_size_cuda : targets_.min_group_size_cpu;
}

std::string FusionState::whyLeftOut(const Node* node) const {
  if (lone_.count(node)) {
    return "below the minimum group size (" + std::to_string(minGroupSize(deviceOf(node))) +
           " ops): a lone op is left to eager";
  }
  const auto refused = refused_.find(node);
  if (refused != refused_.end()) return refused->second;
  std::string why = whyNotFusible(node);
  if (!why.empty()) return why;
  for (const Value* input : node->inputs()) {
    const Node* producer = input->node();
    if (producer->owningBlock() != node->owningBlock() &&
        (isGroup(producer) || isFusible(producer))) {
      return "its fusible neighbours are in another block (groups never cross an if/loop)";
    }
  }
  return "no fusible op next to it in its block, and a lone op is below the minimum group "
         "size (" +
         std::to_string(minGroupSize(deviceOf(node))) + "; set_min_group_size)";
}

void FusionState::recordVerdicts(ExplainRecorder& recorder) const {
  ExplainRecorder::GraphVerdicts verdicts;
  recordBlock(*this, graph_->block(), verdicts);
  recorder.addGraph(std::move(verdicts));
}

bool isGroup(const Node* node) {
  return node->kind() == fusionGroupKind();
}

std::vector<Node*> allGroups(Block* block) {
  std::vector<Node*> groups;
  for (Node* node : block->nodes()) {
    for (Block* sub : node->blocks()) {
      const std::vector<Node*> inner = allGroups(sub);
      groups.insert(groups.end(), inner.begin(), inner.end());
    }
    if (isGroup(node)) groups.push_back(node);
  }
  return groups;
}

Value* subgraphInputFor(Node* group, Value* outer) {
  Graph& subgraph = *group->g(c10::attr::Subgraph);
  for (size_t i = 0; i < group->inputs().size(); ++i) {
    if (group->inputs()[i] == outer) return subgraph.inputs()[i];
  }
  group->addInput(outer);
  return subgraph.addInput()->setType(outer->type());
}

void dropUnreadOutputs(Node* group) {
  Graph& subgraph = *group->g(c10::attr::Subgraph);
  for (size_t i = group->outputs().size(); i-- > 0;) {
    if (!group->outputs()[i]->uses().empty() || group->outputs().size() == 1) continue;
    group->eraseOutput(i);
    subgraph.eraseOutput(i);
  }
  torch::jit::EliminateDeadCode(subgraph.block());
}

bool isSumToSizeResult(const Value* v) {
  const Node* node = v->node();
  if (isGroup(node)) node = node->g(c10::attr::Subgraph)->outputs()[v->offset()]->node();
  return isSumToSize(node);
}

bool sameDevice(const Node* a, const Node* b) {
  c10::optional<c10::Device> device;
  for (const Node* node : {a, b}) {
    for (const Value* v : node->outputs()) {
      const auto type = v->type()->cast<c10::TensorType>();
      if (!type || !type->device()) continue;
      if (device && *device != *type->device()) return false;
      device = type->device();
    }
  }
  return true;
}

size_t countComputeNodes(const Node* group) {
  size_t count = 0;
  for (const Node* node : group->g(c10::attr::Subgraph)->nodes()) {
    if (node->kind() != c10::prim::Constant) ++count;
  }
  return count;
}

}  // namespace torch_fuser
