#include "torch/csrc/jit/codegen/fuser/sizes_from_inputs.h"

#include "torch/csrc/jit/codegen/fuser/fusion_state.h"
#include "torch/csrc/jit/codegen/fuser/lowering.h"
#include "torch/csrc/jit/codegen/fuser/op_table.h"

#include <torch/csrc/jit/ir/ir.h>

#include <algorithm>
#include <unordered_set>
#include <vector>

namespace torch_fuser {
namespace {

using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;

// The group inputs (outside values) whose broadcast shape is the shape of group output
// `v`, or nullopt when something else shapes it.
c10::optional<std::vector<Value*>> shapeLeaves(Value* v) {
  Node* group = v->node();
  Graph& subgraph = *group->g(c10::attr::Subgraph);
  std::vector<Value*> leaves;
  std::vector<const Value*> stack{subgraph.outputs()[v->offset()]};
  std::unordered_set<const Value*> seen;
  while (!stack.empty()) {
    const Value* value = stack.back();
    stack.pop_back();
    if (!seen.insert(value).second) continue;
    const Node* producer = value->node();
    if (producer->kind() == c10::prim::Param) {
      Value* outer = group->inputs()[value->offset()];
      if (std::find(leaves.begin(), leaves.end(), outer) == leaves.end()) leaves.push_back(outer);
      continue;
    }
    const FusibleOp* op = findFusibleOp(producer);
    if (!op || isSumToSize(producer) || isJoin(producer)) return c10::nullopt;
    const size_t shaping = op->shape_from_self() ? 1 : producer->inputs().size();
    for (const Value* in : producer->inputs().slice(0, shaping)) {
      if (in->type()->cast<c10::TensorType>()) stack.push_back(in);
    }
  }
  // Inputs in the group's order: equal graphs get equal rewrites.
  const auto position = [group](Value* x) {
    return std::find(group->inputs().begin(), group->inputs().end(), x) - group->inputs().begin();
  };
  std::sort(leaves.begin(), leaves.end(),
            [&position](Value* a, Value* b) { return position(a) < position(b); });
  return leaves;
}

}  // namespace

bool sizesFromGroupInputs(FusionState& state, torch::jit::Block* block) {
  Graph& graph = state.graph();
  bool changed = false;
  for (auto it = block->nodes().begin(); it != block->nodes().end();) {
    Node* node = *it++;
    if (node->kind() != c10::aten::size || node->inputs().size() != 1) continue;
    Value* v = node->input();
    if (!isGroup(v->node())) continue;
    const c10::optional<std::vector<Value*>> leaves = shapeLeaves(v);
    if (!leaves || leaves->empty()) continue;
    torch::jit::WithInsertPoint guard(node);
    std::vector<Value*> sizes;
    for (Value* leaf : *leaves) sizes.push_back(graph.insert(c10::aten::size, {leaf}));
    Value* size = sizes.size() == 1
                      ? sizes[0]
                      : graph.insertNode(graph.create(c10::prim::BroadcastSizes, sizes))
                            ->output()
                            ->setType(c10::ListType::ofInts());
    node->output()->replaceAllUsesWith(size);
    node->destroy();
    changed = true;
  }
  if (!changed) return false;
  for (Node* group : allGroups(block)) dropUnreadOutputs(group);
  state.rebuildAliasDb();  // the graph changed under it
  return true;
}

}  // namespace torch_fuser
