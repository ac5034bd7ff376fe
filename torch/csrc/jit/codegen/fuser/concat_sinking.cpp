#include "torch/csrc/jit/codegen/fuser/concat_sinking.h"

#include "torch/csrc/jit/codegen/fuser/lowering.h"
#include "torch/csrc/jit/codegen/fuser/profile_facts.h"

#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/ir.h>

#include <vector>

namespace torch_fuser {
namespace {

using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;

// The pieces' common shape, when every piece's is known and they agree.
c10::optional<std::vector<int64_t>> commonShape(const Node* list, const ProfileFacts& facts) {
  c10::optional<std::vector<int64_t>> shape;
  for (const Value* piece : list->inputs()) {
    const c10::optional<std::vector<int64_t>> sizes = facts.sizes(piece);
    if (!sizes || (shape && *shape != *sizes)) return c10::nullopt;
    shape = sizes;
  }
  return shape;
}

// Whether `operand` is the same for every position along dim `dim` of a rank-`rank`
// result: a number, or a tensor of at most that rank with size 1 there (or not reaching).
// Broadcasts its sizes into `shape` (a piece's result); false if they do not broadcast.
bool uniformAlong(const Value* operand, int64_t dim, const ProfileFacts& facts,
                  std::vector<int64_t>& shape) {
  if (!operand->type()->cast<c10::TensorType>()) return true;
  const c10::optional<std::vector<int64_t>> sizes = facts.sizes(operand);
  const int64_t rank = static_cast<int64_t>(shape.size());
  if (!sizes || static_cast<int64_t>(sizes->size()) > rank) return false;
  const int64_t offset = rank - static_cast<int64_t>(sizes->size());
  for (size_t d = 0; d < sizes->size(); ++d) {
    int64_t& target = shape[offset + d];
    const int64_t size = (*sizes)[d];
    if (offset + static_cast<int64_t>(d) == dim && size != 1) return false;
    if (size == target || size == 1) continue;
    if (target != 1) return false;
    target = size;
  }
  return true;
}

// Sinks `cat` below its reader; false when the conditions do not hold.
bool sink(Node* cat, const ProfileFacts& facts, const std::function<bool(const Node*)>& fusible) {
  if (cat->inputs().size() != 2 || cat->output()->uses().size() != 1) return false;
  Node* list = cat->input(0)->node();
  if (list->kind() != c10::prim::ListConstruct || cat->input(0)->uses().size() != 1 ||
      list->inputs().size() < 2) {
    return false;
  }
  const c10::optional<c10::IValue> dim_value = torch::jit::toIValue(cat->input(1));
  if (!dim_value || !dim_value->isInt()) return false;
  const c10::optional<std::vector<int64_t>> shape = commonShape(list, facts);
  if (!shape || shape->empty()) return false;
  const int64_t rank = static_cast<int64_t>(shape->size());
  int64_t dim = dim_value->toInt();
  if (dim < -rank || dim >= rank) return false;  // eager raises; leave it to eager
  dim = dim < 0 ? dim + rank : dim;

  Node* op = cat->output()->uses()[0].user;
  if (op->owningBlock() != cat->owningBlock() || op->outputs().size() != 1 || !fusible(op) ||
      op->kind() == c10::aten::rand_like || isSumToSize(op)) {
    return false;
  }
  std::vector<int64_t> piece_shape = *shape;
  for (const Value* operand : op->inputs()) {
    if (operand != cat->output() && !uniformAlong(operand, dim, facts, piece_shape)) return false;
  }

  Graph& graph = *cat->owningGraph();
  torch::jit::WithInsertPoint guard(op);
  const c10::TensorTypePtr result = op->output()->type()->cast<c10::TensorType>();
  std::vector<Value*> pieces;
  for (Value* piece : list->inputs()) {
    Node* clone = graph.createClone(op, [&](Value* v) { return v == cat->output() ? piece : v; });
    graph.insertNode(clone);
    // Typed with its shape, so an op reading the new concatenation can sink too.
    c10::TensorTypePtr type = c10::TensorType::get()->withSizes(piece_shape);
    if (result && result->scalarType()) type = type->withScalarType(result->scalarType());
    if (result && result->device()) type = type->withDevice(*result->device());
    clone->output()->setType(type);
    pieces.push_back(clone->output());
  }
  Node* new_list = graph.insertNode(graph.createList(c10::TensorType::get(), pieces));
  Node* new_cat =
      graph.insertNode(graph.create(c10::aten::cat, {new_list->output(), cat->input(1)}));
  new_cat->output()->setType(op->output()->type());
  op->output()->replaceAllUsesWith(new_cat->output());
  op->destroy();
  cat->destroy();
  list->destroy();
  return true;
}

}  // namespace

int sinkOpsBelowConcatenations(torch::jit::Block* block, const ProfileFacts& facts,
                               const std::function<bool(const Node*)>& fusible) {
  int moved = 0;
  bool changed = true;
  while (changed) {
    changed = false;
    for (auto it = block->nodes().begin(); it != block->nodes().end();) {
      Node* node = *it++;
      if (node->kind() != c10::aten::cat || !sink(node, facts, fusible)) continue;
      ++moved;
      changed = true;
      break;  // the node list changed around `it`
    }
  }
  for (Node* node : block->nodes()) {
    for (torch::jit::Block* sub : node->blocks())
      moved += sinkOpsBelowConcatenations(sub, facts, fusible);
  }
  return moved;
}

}  // namespace torch_fuser
