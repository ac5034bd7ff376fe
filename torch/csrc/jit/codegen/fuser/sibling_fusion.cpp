#include "torch/csrc/jit/codegen/fuser/sibling_fusion.h"

#include "torch/csrc/jit/codegen/fuser/fusion_state.h"
#include "torch/csrc/jit/codegen/fuser/lowering.h"
#include "torch/csrc/jit/codegen/fuser/op_table.h"
#include "torch/csrc/jit/codegen/fuser/producer_merging.h"

#include <torch/csrc/jit/ir/ir.h>

#include <algorithm>
#include <vector>

namespace torch_fuser {
namespace {

using torch::jit::Block;
using torch::jit::Node;
using torch::jit::Value;

bool isRandom(const Node* node) {
  const FusibleOp* op = findFusibleOp(node);
  return op && op->pattern == LoweringPattern::kRandLike;
}

bool isCandidate(const FusionState& state, const Node* node) {
  if (!isGroup(node)) return state.isFusible(node) && !isSumToSize(node) && !isRandom(node);
  for (const Node* inner : node->g(c10::attr::Subgraph)->nodes()) {
    if (isJoin(inner) || inner->kind() == c10::prim::ConstantChunk || isRandom(inner)) {
      return false;
    }
  }
  return true;
}

// The tensors whose broadcast shape is the node's iteration space: a lone to() or
// type_as takes its shape from self alone.
std::vector<const Value*> shapingTensors(const Node* node) {
  size_t shaping = node->inputs().size();
  if (!isGroup(node)) {
    const FusibleOp* op = findFusibleOp(node);
    if (op && op->shape_from_self()) shaping = 1;
  }
  std::vector<const Value*> tensors;
  for (const Value* v : node->inputs().slice(0, shaping)) {
    if (v->type()->cast<c10::TensorType>() &&
        std::find(tensors.begin(), tensors.end(), v) == tensors.end()) {
      tensors.push_back(v);
    }
  }
  return tensors;
}

bool sameIterationSpace(const FusionState& state, const Node* a, const Node* b) {
  std::vector<const Value*> ta = shapingTensors(a);
  std::vector<const Value*> tb = shapingTensors(b);
  const auto contains = [](const std::vector<const Value*>& set, const Value* v) {
    return std::find(set.begin(), set.end(), v) != set.end();
  };
  const bool same_tensors =
      ta.size() == tb.size() &&
      std::all_of(ta.begin(), ta.end(), [&](const Value* v) { return contains(tb, v); });
  if (same_tensors) return true;
  const c10::optional<std::vector<int64_t>> sa = state.knownBroadcast(ta);
  const c10::optional<std::vector<int64_t>> sb = state.knownBroadcast(tb);
  return sa && sb && *sa == *sb;
}

bool readsResultOf(const Node* consumer, const Node* producer) {
  return std::any_of(consumer->inputs().begin(), consumer->inputs().end(),
                     [producer](const Value* v) { return v->node() == producer; });
}

bool devicesAgree(const FusionState& state, const Node* a, const Node* b) {
  const c10::optional<c10::Device> da = state.deviceOf(a);
  const c10::optional<c10::Device> db = state.deviceOf(b);
  return !da || !db || *da == *db;
}

// Merges into `later` the first earlier candidate (in use order of later's inputs) that
// reads one of its tensor inputs and runs over the same space; returns the group or null.
Node* mergeOneSibling(FusionState& state, Node* later) {
  for (Value* input : later->inputs()) {
    if (!input->type()->cast<c10::TensorType>()) continue;
    for (const torch::jit::Use& use : input->uses()) {
      Node* earlier = use.user;
      if (earlier == later || earlier->owningBlock() != later->owningBlock() ||
          !earlier->isBefore(later) || readsResultOf(later, earlier)) {
        continue;
      }
      if (!isCandidate(state, earlier) || !devicesAgree(state, earlier, later) ||
          !sameIterationSpace(state, earlier, later)) {
        continue;
      }
      if (Node* group = tryMerge(state, later, earlier)) return group;
    }
  }
  return nullptr;
}

}  // namespace

int fuseSiblings(FusionState& state, Block* block) {
  int merged = 0;
  for (Node* node : block->nodes()) {
    for (Block* sub : node->blocks()) merged += fuseSiblings(state, sub);
  }
  for (auto it = block->nodes().begin(); it != block->nodes().end();) {
    Node* node = *it;
    Node* group = isCandidate(state, node) ? mergeOneSibling(state, node) : nullptr;
    if (!group) {
      ++it;
      continue;
    }
    ++merged;
    it = group->iterator();  // its inputs grew: it may have more siblings now
  }
  return merged;
}

}  // namespace torch_fuser
