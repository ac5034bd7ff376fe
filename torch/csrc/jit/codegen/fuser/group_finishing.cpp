#include "torch/csrc/jit/codegen/fuser/group_finishing.h"

#include "torch/csrc/jit/codegen/fuser/chunk_pushing.h"
#include "torch/csrc/jit/codegen/fuser/fusion_state.h"
#include "torch/csrc/jit/codegen/fuser/input_views.h"
#include "torch/csrc/jit/codegen/fuser/lowering.h"

#include <torch/csrc/jit/ir/alias_analysis.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/utils/subgraph_utils.h>

#include <algorithm>
#include <map>
#include <tuple>

namespace torch_fuser {
namespace {

using torch::jit::Block;
using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;
namespace SubgraphUtils = torch::jit::SubgraphUtils;

// Whether undoing the group leaves ops the interpreter runs: a join (fuser::FusedConcat /
// FusedStack) or a pushed chunk only exists inside groups (fallback.cpp rebuilds them).
bool unmergesIntoStandardOps(const Node& group) {
  for (const Node* node : group.g(c10::attr::Subgraph)->nodes()) {
    if (isJoin(node) || node->hasAttribute(pushedChunkIdAttr())) return false;
  }
  return true;
}

// Whether a chunk inside the group cuts `v` (the kernel cuts pieces of inputs only).
bool isChunked(const Value* v) {
  return std::any_of(v->uses().begin(), v->uses().end(), [](const torch::jit::Use& use) {
    return use.user->kind() == c10::prim::ConstantChunk;
  });
}

// A clone of constant `v` inside `subgraph`.
Value* cloneConstant(Graph& subgraph, Value* v) {
  Node* constant = subgraph.createClone(v->node(), [](Value*) -> Value* {
    TORCH_INTERNAL_ASSERT(false, "a constant has no inputs");
  });
  return subgraph.insertNode(constant)->output();
}

// Scalar constants become literals inside the kernel instead of group inputs.
void inlineScalarConstants(Node* group) {
  Graph& subgraph = *group->g(c10::attr::Subgraph);
  for (size_t i = group->inputs().size(); i-- > 0;) {
    Value* outer = group->inputs()[i];
    if (outer->node()->kind() != c10::prim::Constant || outer->type()->cast<c10::TensorType>()) {
      continue;
    }
    torch::jit::WithInsertPoint guard(subgraph.block()->nodes().front());
    subgraph.inputs()[i]->replaceAllUsesWith(cloneConstant(subgraph, outer));
    subgraph.eraseInput(i);
    group->removeInput(i);
  }
}

// Views of values the group takes from outside (input_views.h) move into it, chains
// included, so a view costs no op of its own (b * d.unsqueeze(1)); the view outside stays
// for any other reader. Not views of chunk pieces (the kernel cuts pieces of inputs
// only), of values something writes to, or cut by a chunk inside.
void absorbViews(const FusionState& state, Node* group) {
  Graph& subgraph = *group->g(c10::attr::Subgraph);
  bool changed = true;
  while (changed) {
    changed = false;
    for (size_t i = group->inputs().size(); i-- > 0;) {
      Node* view = group->inputs()[i]->node();
      if (view->owningBlock() != group->owningBlock() || !isInputView(view)) continue;
      Value* source = view->input(0);
      if (chunkPiece(source) || state.aliasDb().hasWriters(source) ||
          isChunked(subgraph.inputs()[i])) {
        continue;
      }
      Value* source_inside = subgraphInputFor(group, source);
      torch::jit::WithInsertPoint guard(subgraph.block()->nodes().front());
      Node* inner = subgraph.createClone(view, [&](Value* v) -> Value* {
        return v == source ? source_inside : cloneConstant(subgraph, v);
      });
      subgraph.insertNode(inner);
      subgraph.inputs()[i]->replaceAllUsesWith(inner->output());
      subgraph.eraseInput(i);
      group->removeInput(i);
      changed = true;
    }
  }
}

// Moves chunks of the group's inputs into the group as prim::ConstantChunk nodes, so the
// kernel reads the pieces as views of the chunked tensor (no copies). The chunk outside
// stays for any other reader. Skipped when anything may write to the chunked tensor.
void absorbChunks(const FusionState& state, Node* group) {
  Graph& subgraph = *group->g(c10::attr::Subgraph);
  // Only looked up, never iterated: its order (by address) decides nothing.
  std::map<std::tuple<const Value*, int64_t, int64_t>, Node*> inner_chunks;
  for (size_t i = group->inputs().size(); i-- > 0;) {
    const c10::optional<ChunkPiece> piece = chunkPiece(group->inputs()[i]);
    if (!piece || !piece->self->type()->cast<c10::TensorType>()) continue;
    if (state.aliasDb().hasWriters(piece->self)) continue;
    Node*& inner = inner_chunks[std::make_tuple(piece->self, piece->chunks, piece->dim)];
    if (!inner) {
      Value* self_inside = subgraphInputFor(group, piece->self);
      torch::jit::WithInsertPoint guard(subgraph.block()->nodes().front());
      inner = subgraph.insertNode(subgraph.create(c10::prim::ConstantChunk, {self_inside},
                                                  static_cast<size_t>(piece->chunks)));
      inner->i_(c10::attr::chunks, piece->chunks)->i_(c10::attr::dim, piece->dim);
      for (Value* out : inner->outputs()) out->setType(c10::TensorType::get());
    }
    subgraph.inputs()[i]->replaceAllUsesWith(inner->outputs()[piece->piece]);
    subgraph.eraseInput(i);
    group->removeInput(i);
  }
}

}  // namespace

int wrapLoneOps(FusionState& state, Block* block) {
  int wrapped = 0;
  for (auto it = block->nodes().begin(); it != block->nodes().end();) {
    Node* node = *it++;
    for (Block* sub : node->blocks()) wrapped += wrapLoneOps(state, sub);
    // A lone _grad_sum_to_size is a reduction, not a kernel's work.
    if (isGroup(node) || isSumToSize(node) || !state.isFusible(node)) continue;
    if (state.minGroupSize(state.deviceOf(node)) > 1) continue;
    SubgraphUtils::createSingletonSubgraphAndUpdateAliasing(node, fusionGroupKind(),
                                                            state.aliasDb());
    ++wrapped;
  }
  return wrapped;
}

void finishGroups(FusionState& state, Block* block) {
  for (Node* group : allGroups(block)) {
    inlineScalarConstants(group);
    const auto min_size = static_cast<size_t>(state.minGroupSize(state.deviceOf(group)));
    if (unmergesIntoStandardOps(*group) && countComputeNodes(group) < min_size) {
      Node* before = group->prev();
      Node* after = group->next();
      SubgraphUtils::unmergeSubgraph(group);
      for (Node* n = before->next(); n != after; n = n->next()) state.noteLone(n);
    } else {
      absorbViews(state, group);
      absorbChunks(state, group);
    }
  }
}

}  // namespace torch_fuser
