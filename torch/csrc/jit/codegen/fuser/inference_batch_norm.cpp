#include "torch/csrc/jit/codegen/fuser/inference_batch_norm.h"

#include "torch/csrc/jit/codegen/fuser/profile_facts.h"

#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/ir.h>

namespace torch_fuser {
namespace {

using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;

c10::optional<c10::IValue> constantOf(const Value* v) {
  if (v->node()->kind() != c10::prim::Constant) return c10::nullopt;
  return torch::jit::toIValue(v);
}

// `stat` ([C]) unsqueezed to [C, 1, ..., 1], broadcasting along dim 1 of a rank-`rank` x.
Value* perChannel(Graph& graph, Value* stat, int64_t rank) {
  for (int64_t d = 2; d < rank; ++d) {
    stat = graph.insert(c10::aten::unsqueeze, {stat, static_cast<int64_t>(-1)});
  }
  return stat;
}

// aten::batch_norm(input, weight?, bias?, running_mean?, running_var?, training,
//                  momentum, eps, cudnn_enabled)
bool decompose(Node* node, const ProfileFacts& facts,
               const std::function<bool(const Value*)>& fusible) {
  if (node->kind() != c10::aten::batch_norm || node->inputs().size() != 9) return false;
  Value* x = node->input(0);
  Value* weight = node->input(1);
  Value* bias = node->input(2);
  Value* mean = node->input(3);
  Value* var = node->input(4);
  const c10::optional<c10::IValue> training = constantOf(node->input(5));
  const c10::optional<c10::IValue> eps = constantOf(node->input(7));
  if (!training || !training->isBool() || training->toBool()) return false;
  if (!eps || !eps->isDouble()) return false;
  for (const Value* stat : {mean, var}) {
    if (!stat->type()->cast<c10::TensorType>()) return false;  // None: batch statistics
  }
  const c10::optional<int64_t> rank = facts.rank(x);
  if (!rank || *rank < 2 || !fusible(x)) return false;

  Graph& graph = *node->owningGraph();
  torch::jit::WithInsertPoint guard(node);
  Value* centered = graph.insert(c10::aten::sub, {x, perChannel(graph, mean, *rank)});
  Value* shifted = graph.insert(c10::aten::add, {perChannel(graph, var, *rank), eps->toDouble()});
  Value* out = graph.insert(c10::aten::mul, {centered, graph.insert(c10::aten::rsqrt, {shifted})});
  if (weight->type()->cast<c10::TensorType>()) {
    out = graph.insert(c10::aten::mul, {out, perChannel(graph, weight, *rank)});
  }
  if (bias->type()->cast<c10::TensorType>()) {
    out = graph.insert(c10::aten::add, {out, perChannel(graph, bias, *rank)});
  }
  out->setType(node->output()->type());
  node->output()->replaceAllUsesWith(out);
  node->destroy();
  return true;
}

}  // namespace

int decomposeInferenceBatchNorms(torch::jit::Block* block, const ProfileFacts& facts,
                                 const std::function<bool(const Value*)>& fusible) {
  int rewritten = 0;
  for (auto it = block->nodes().begin(); it != block->nodes().end();) {
    Node* node = *it++;
    for (torch::jit::Block* sub : node->blocks()) {
      rewritten += decomposeInferenceBatchNorms(sub, facts, fusible);
    }
    rewritten += decompose(node, facts, fusible) ? 1 : 0;
  }
  return rewritten;
}

}  // namespace torch_fuser
