#include "torch/csrc/jit/codegen/fuser/profile_cleanup.h"

#include "torch/csrc/jit/codegen/fuser/fusion_state.h"

#include <torch/csrc/jit/ir/ir.h>

namespace torch_fuser {
namespace {

using torch::jit::Node;

// A list a cat or stack joins: its pieces may move into a kernel (concat_absorption.h).
bool isJoinedList(const Node* node) {
  if (node->kind() != c10::prim::ListConstruct || node->output()->uses().size() != 1) {
    return false;
  }
  const c10::Symbol user = node->output()->uses()[0].user->kind();
  return user == c10::aten::cat || user == c10::aten::stack;
}

bool isAdjacentToFusible(const FusionState& state, const Node* profile) {
  if (state.isFusible(profile->input()->node())) return true;
  for (const torch::jit::Use& use : profile->output()->uses()) {
    if (state.isFusible(use.user) || isJoinedList(use.user)) return true;
  }
  return false;
}

}  // namespace

int dropProfilesAroundFusibleNodes(const FusionState& state, torch::jit::Block* block) {
  int dropped = 0;
  for (auto it = block->nodes().begin(); it != block->nodes().end();) {
    Node* node = *it++;
    for (torch::jit::Block* sub : node->blocks())
      dropped += dropProfilesAroundFusibleNodes(state, sub);
    if (node->kind() == c10::prim::profile && node->inputs().size() == 1 &&
        node->outputs().size() == 1 && isAdjacentToFusible(state, node)) {
      node->output()->replaceAllUsesWith(node->input());
      node->destroy();
      ++dropped;
    }
  }
  return dropped;
}

int dropRemainingProfiles(torch::jit::Block* block) {
  int dropped = 0;
  for (auto it = block->nodes().begin(); it != block->nodes().end();) {
    Node* node = *it++;
    for (torch::jit::Block* sub : node->blocks()) dropped += dropRemainingProfiles(sub);
    if (node->kind() != c10::prim::profile || node->inputs().size() != 1 ||
        node->outputs().size() != 1) {
      continue;
    }
    node->output()->replaceAllUsesWith(node->input());
    node->destroy();
    ++dropped;
  }
  return dropped;
}

}  // namespace torch_fuser
