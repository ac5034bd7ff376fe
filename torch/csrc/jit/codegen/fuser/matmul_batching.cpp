#include "torch/csrc/jit/codegen/fuser/matmul_batching.h"

#include "torch/csrc/jit/codegen/fuser/fusion_state.h"
#include "torch/csrc/jit/codegen/fuser/options.h"

#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/batch_mm.h>

#include <unordered_map>

namespace torch_fuser {
namespace {

using torch::jit::Block;
using torch::jit::Node;
using torch::jit::Value;

// BatchMM reduces trees of at least 4 matmuls and batches at least 8 sharing an operand:
// a graph with fewer is left alone (no profile dropped, no peephole pass run).
constexpr int kFewestMatmulsWorthBatching = 4;

// The matmuls of `block` and its nested blocks; -1 when one of them computes on a device
// (or dtype) the fuser is switched off for: then the graph is left as it is.
int countMatmuls(const FusionState& state, const Block* block) {
  int count = 0;
  for (const Node* node : block->nodes()) {
    if (node->kind() == c10::aten::mm) {
      if (!state.whyValueRefused(node->output()).empty()) return -1;
      ++count;
    }
    for (const Block* sub : node->blocks()) {
      const int inner = countMatmuls(state, sub);
      if (inner < 0) return -1;
      count += inner;
    }
  }
  return count;
}

bool isTreeNode(const Node* node) {
  return node->kind() == c10::aten::mm || node->kind() == c10::aten::t ||
         node->kind() == c10::aten::add;
}

// Profiles come in chains (one per use, profiled again by each instrumentation).
const Node* sourceThroughProfiles(const Node* profile) {
  const Node* node = profile->input()->node();
  while (node->kind() == c10::prim::profile && node->inputs().size() == 1) {
    node = node->input()->node();
  }
  return node;
}

// An add BatchMM may fold into a tree: BatchMM ignores alpha, and its fallback adds the
// matmuls in place into the first one, so only alpha 1 and operands of one profiled shape
// keep eager's result.
bool isBatchableAdd(const FusionState& state, const Node* add) {
  if (add->kind() != c10::aten::add || add->inputs().size() != 3) return false;
  const c10::optional<c10::IValue> alpha = torch::jit::toIValue(add->input(2));
  if (!alpha || !((alpha->isInt() && alpha->toInt() == 1) ||
                  (alpha->isDouble() && alpha->toDouble() == 1.0))) {
    return false;
  }
  const auto left = state.facts().sizes(add->input(0));
  return left && left == state.facts().sizes(add->input(1));
}

// Whether BatchMM must see through `profile`: every use is an mm (side batching looks for
// several mms reading one value), or a transpose or batchable add of an mm/t/add result
// (a tree's edges), possibly through more profiles.
bool hidesMatmulPattern(const FusionState& state, const Node* profile,
                        std::unordered_map<const Node*, bool>& memo) {
  auto known = memo.find(profile);
  if (known != memo.end()) return known->second;
  const bool from_tree = isTreeNode(sourceThroughProfiles(profile));
  bool hides = profile->output()->hasUses();
  for (const torch::jit::Use& use : profile->output()->uses()) {
    const Node* user = use.user;
    if (user->kind() == c10::aten::mm) continue;
    if (from_tree && (user->kind() == c10::aten::t || isBatchableAdd(state, user))) continue;
    if (user->kind() == c10::prim::profile && hidesMatmulPattern(state, user, memo)) continue;
    hides = false;
    break;
  }
  memo[profile] = hides;
  return hides;
}

void collectHidingProfiles(const FusionState& state, Block* block,
                           std::unordered_map<const Node*, bool>& memo, std::vector<Node*>& out) {
  for (Node* node : block->nodes()) {
    for (Block* sub : node->blocks()) collectHidingProfiles(state, sub, memo, out);
    if (node->kind() == c10::prim::profile && node->inputs().size() == 1 &&
        node->outputs().size() == 1 && hidesMatmulPattern(state, node, memo)) {
      out.push_back(node);
    }
  }
}

}  // namespace

int batchMatmuls(const FusionState& state, std::shared_ptr<torch::jit::Graph> graph) {
  if (!batchMatmulsRequested()) return 0;
  if (countMatmuls(state, graph->block()) < kFewestMatmulsWorthBatching) return 0;
  // Decided on the whole graph before any is dropped (the rule reads profiled sizes).
  std::unordered_map<const Node*, bool> memo;
  std::vector<Node*> hiding;
  collectHidingProfiles(state, graph->block(), memo, hiding);
  if (hiding.empty()) return 0;
  for (Node* profile : hiding) {
    profile->output()->replaceAllUsesWith(profile->input());
    profile->destroy();
  }
  torch::jit::BatchMM(graph);
  return static_cast<int>(hiding.size());
}

}  // namespace torch_fuser
