#include "torch/csrc/jit/codegen/fuser/matmul_batching.h"

#include "torch/csrc/jit/codegen/fuser/options.h"

#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/batch_mm.h>

namespace torch_fuser {
namespace {

using torch::jit::Block;
using torch::jit::Node;

// BatchMM reduces trees of at least 4 matmuls and batches at least 8 sharing an operand:
// a graph with fewer is left alone (no profile dropped, no peephole pass run).
constexpr int kFewestMatmulsWorthBatching = 4;

int countMatmuls(const Block* block) {
  int count = 0;
  for (const Node* node : block->nodes()) {
    if (node->kind() == c10::aten::mm) ++count;
    for (const Block* sub : node->blocks()) count += countMatmuls(sub);
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

// A profile BatchMM must see through: after an mm, transpose or add (a tree's inner edges
// and its root), or before an mm or transpose (side batching looks for several mms reading
// one value).
bool hidesMatmulPattern(const Node* profile) {
  if (isTreeNode(sourceThroughProfiles(profile))) return true;
  for (const torch::jit::Use& use : profile->output()->uses()) {
    if (use.user->kind() == c10::aten::mm || use.user->kind() == c10::aten::t) return true;
  }
  return false;
}

int dropProfilesInMatmulPatterns(Block* block) {
  int dropped = 0;
  for (auto it = block->nodes().begin(); it != block->nodes().end();) {
    Node* node = *it++;
    for (Block* sub : node->blocks()) dropped += dropProfilesInMatmulPatterns(sub);
    if (node->kind() != c10::prim::profile || node->inputs().size() != 1 ||
        node->outputs().size() != 1 || !hidesMatmulPattern(node)) {
      continue;
    }
    node->output()->replaceAllUsesWith(node->input());
    node->destroy();
    ++dropped;
  }
  return dropped;
}

}  // namespace

int batchMatmuls(const std::shared_ptr<torch::jit::Graph>& graph) {
  if (!batchMatmulsRequested()) return 0;
  if (countMatmuls(graph->block()) < kFewestMatmulsWorthBatching) return 0;
  const int dropped = dropProfilesInMatmulPatterns(graph->block());
  if (dropped == 0) return 0;
  std::shared_ptr<torch::jit::Graph> batched = graph;
  torch::jit::BatchMM(batched);
  return dropped;
}

}  // namespace torch_fuser
