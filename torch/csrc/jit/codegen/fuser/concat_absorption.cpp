#include "torch/csrc/jit/codegen/fuser/concat_absorption.h"

#include "torch/csrc/jit/codegen/fuser/fusion_state.h"
#include "torch/csrc/jit/codegen/fuser/lowering.h"
#include "torch/csrc/jit/codegen/fuser/producer_merging.h"

#include <torch/csrc/jit/ir/alias_analysis.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/jit_log.h>
#include <torch/csrc/jit/passes/utils/subgraph_utils.h>

#include <algorithm>
#include <vector>

namespace torch_fuser {
namespace {

using torch::jit::Block;
using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;
namespace SubgraphUtils = torch::jit::SubgraphUtils;

// One kernel writes every piece over one iteration space, so pieces of different shapes
// would fall back on every call: skip concatenations whose pieces are known (or profiled)
// to differ. A hint only; the executor checks every call.
bool piecesMayShareAShape(const FusionState& state, const Node* list) {
  c10::optional<std::vector<int64_t>> first;
  for (const Value* piece : list->inputs()) {
    const c10::optional<std::vector<int64_t>> sizes = state.facts().sizes(piece);
    if (!sizes) continue;
    if (first && *first != *sizes) return false;
    first = sizes;
  }
  return true;
}

// The group the concatenation moves into: the one computing the last piece, with the
// groups and fusible ops computing the other pieces merged in. Pieces computed otherwise,
// or whose producers cannot move, are read as inputs. Null when no piece is computed
// elementwise (a plain cat is as fast as a copying kernel) or a piece cannot be read.
Node* groupComputingPieces(FusionState& state, Node* list) {
  Block* block = list->owningBlock();
  std::vector<Node*> producers;  // groups or fusible ops computing pieces, latest first
  for (Value* piece : list->inputs()) {
    Node* node = piece->node();
    if (!piece->type()->cast<c10::TensorType>() || !state.whyValueRefused(piece).empty())
      return nullptr;
    // The cat reads a piece where it stands; the kernel would read it earlier, before
    // any in-place write in between.
    if (state.aliasDb().hasWriters(piece)) return nullptr;
    // A join the group already writes (a pushed value also read whole) cannot be a piece
    // of another join in the same kernel, nor an input of it.
    if (isGroup(node) && isJoin(node->g(c10::attr::Subgraph)->outputs()[piece->offset()]->node())) {
      return nullptr;
    }
    if (node->owningBlock() != block || (!isGroup(node) && !state.isFusible(node))) continue;
    if (isSumToSizeResult(piece)) continue;  // read as an input (see isSumToSizeResult)
    if (std::find(producers.begin(), producers.end(), node) == producers.end())
      producers.push_back(node);
  }
  if (producers.empty()) return nullptr;
  std::sort(producers.begin(), producers.end(), [](Node* a, Node* b) { return a->isAfter(b); });
  Node* group = producers.front();
  // Pieces read as inputs must exist where the group runs.
  for (Value* piece : list->inputs()) {
    Node* node = piece->node();
    if (node == group || node->owningBlock() != block || node->isBefore(group)) continue;
    if (std::find(producers.begin(), producers.end(), node) != producers.end()) continue;
    if (!state.aliasDb().moveAfterTopologicallyValid(group, node)) return nullptr;
  }
  if (!isGroup(group)) {
    group = SubgraphUtils::createSingletonSubgraphAndUpdateAliasing(group, fusionGroupKind(),
                                                                    state.aliasDb());
  }
  for (size_t p = 1; p < producers.size(); ++p) tryMerge(state, group, producers[p]);
  return group;
}

bool absorbConcat(FusionState& state, Node* cat) {
  if (cat->inputs().size() != 2) return false;
  Node* list = cat->input(0)->node();
  if (list->kind() != c10::prim::ListConstruct || cat->input(0)->uses().size() != 1) return false;
  if (list->inputs().size() < 2) return false;
  // The dim must be a constant (it is resolved against the rank on every call).
  const c10::optional<c10::IValue> dim = torch::jit::toIValue(cat->input(1));
  if (!dim || !dim->isInt()) return false;
  if (!piecesMayShareAShape(state, list)) return false;
  Node* group = groupComputingPieces(state, list);
  if (!group) return false;
  Graph& subgraph = *group->g(c10::attr::Subgraph);
  std::vector<Value*> inner;
  for (Value* piece : list->inputs()) {
    inner.push_back(piece->node() == group ? subgraph.outputs()[piece->offset()]
                                           : subgraphInputFor(group, piece));
  }
  const bool stack = cat->kind() == c10::aten::stack;
  Node* concat = subgraph.create(stack ? fusedStackKind() : c10::prim::FusedConcat, inner, 1);
  concat->i_(c10::attr::dim, dim->toInt());
  concat->output()->setType(c10::TensorType::get());
  subgraph.insertNode(concat);
  subgraph.registerOutput(concat->output());
  Value* result = group->addOutput()->setType(cat->output()->type());
  cat->output()->replaceAllUsesWith(result);
  cat->destroy();
  list->destroy();
  // Pieces read only by the concatenation are not written on their own.
  for (size_t i = group->outputs().size(); i-- > 0;) {
    if (group->outputs()[i]->uses().empty()) {
      subgraph.eraseOutput(i);
      group->eraseOutput(i);
    }
  }
  state.rebuildAliasDb();
  GRAPH_UPDATE("Moved a concatenation into a fusion group");
  return true;
}

}  // namespace

int absorbConcatenations(FusionState& state, Block* block) {
  int absorbed = 0;
  std::vector<Node*> cats;
  for (Node* node : block->nodes()) {
    for (Block* sub : node->blocks()) absorbed += absorbConcatenations(state, sub);
    if (node->kind() == c10::aten::cat || node->kind() == c10::aten::stack) cats.push_back(node);
  }
  for (Node* cat : cats) absorbed += absorbConcat(state, cat) ? 1 : 0;
  return absorbed;
}

}  // namespace torch_fuser
