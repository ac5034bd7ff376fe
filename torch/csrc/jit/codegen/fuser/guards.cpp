#include "torch/csrc/jit/codegen/fuser/guards.h"

#include "torch/csrc/jit/codegen/fuser/fallback.h"

#include <ATen/core/Tensor.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/jit_log.h>

namespace torch_fuser {

using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;

c10::Symbol typeGuardKind() {
  static const c10::Symbol kind = c10::Symbol::fromQualString("fuser::TypeGuard");
  return kind;
}

bool isTypeGuardedIf(const Node* node) {
  return node && node->kind() == c10::prim::If && node->inputs().size() == 1 &&
         node->input()->node()->kind() == typeGuardKind();
}

namespace {

// What a guard compares of one input; unset fields are not compared.
struct Expected {
  c10::optional<c10::ScalarType> dtype;
  c10::optional<c10::Device> device;
  c10::optional<int64_t> rank;
  c10::optional<bool> requires_grad;  // as profiles record it: grad mode && requires_grad()

  static Expected from(const c10::TensorTypePtr& type) {
    Expected e;
    if (!type) return e;
    e.dtype = type->scalarType();
    e.device = type->device();
    if (type->dim()) e.rank = static_cast<int64_t>(*type->dim());
    e.requires_grad = type->requiresGrad();
    return e;
  }

  bool checksAnything() const { return dtype || device || rank || requires_grad; }

  // The type stored on the guard node: only the fields compared.
  c10::TensorTypePtr type() const {
    c10::TensorTypePtr t = c10::TensorType::get();
    if (rank) t = t->withDim(static_cast<size_t>(*rank));
    if (dtype) t = t->withScalarType(*dtype);
    if (device) t = t->withDevice(*device);
    if (requires_grad) t = t->withRequiresGrad(*requires_grad);
    return t;
  }

  bool matches(const at::Tensor& t, bool grad_mode) const {
    if (!t.defined()) return false;  // the kernel cannot take it; re-specialize
    if (dtype && *dtype != t.scalar_type()) return false;
    if (device && *device != t.device()) return false;
    if (rank && *rank != t.dim()) return false;
    if (requires_grad && *requires_grad != (grad_mode && t.requires_grad())) return false;
    return true;
  }
};

// The group's computation as a graph of standard ops, for the executor's fallback
// function (which this pass may fuse again).
std::shared_ptr<Graph> fallbackSubgraph(Node* group) {
  return fallbackGraph(*group->g(c10::attr::Subgraph));
}

}  // namespace

void guardFusionGroup(Node* group, const std::vector<c10::TensorTypePtr>& expected) {
  TORCH_INTERNAL_ASSERT(expected.size() == group->inputs().size(),
                        "guardFusionGroup: ", group->inputs().size(), " inputs but ",
                        expected.size(), " expected types");
  std::vector<Value*> checked;
  std::vector<c10::TypePtr> types;
  for (size_t i = 0; i < expected.size(); ++i) {
    Value* input = group->inputs()[i];
    if (!input->type()->cast<c10::TensorType>()) continue;
    const Expected e = Expected::from(expected[i]);
    if (!e.checksAnything()) continue;
    if (std::find(checked.begin(), checked.end(), input) != checked.end()) continue;
    checked.push_back(input);
    types.push_back(e.type());
  }
  if (checked.empty()) return;

  Graph& graph = *group->owningGraph();
  torch::jit::WithInsertPoint insert(group);
  Node* guard = graph.insertNode(graph.create(typeGuardKind(), checked, 1));
  guard->tys_(c10::attr::types, types);
  guard->output()->setType(c10::BoolType::get());

  Node* branch = graph.insertNode(graph.create(c10::prim::If, {guard->output()}, 0));
  for (Value* out : group->outputs()) {
    Value* result = branch->addOutput()->setType(out->type());
    out->replaceAllUsesWith(result);
  }
  torch::jit::Block* fused = branch->addBlock();
  torch::jit::Block* fallback = branch->addBlock();

  group->moveBefore(fused->return_node());
  for (Value* out : group->outputs()) fused->registerOutput(out);

  Node* call = graph.create(c10::prim::FallbackGraph, group->inputs(), group->outputs().size());
  call->g_(c10::attr::Subgraph, fallbackSubgraph(group));
  fallback->appendNode(call);
  for (size_t o = 0; o < group->outputs().size(); ++o) {
    call->outputs()[o]->setType(group->outputs()[o]->type());
    fallback->registerOutput(call->outputs()[o]);
  }
  GRAPH_UPDATE("Guarded a fusion group on ", checked.size(), " inputs");
}

torch::jit::Operation createTypeGuardOperation(const Node* node) {
  std::vector<Expected> expected;
  for (const c10::TypePtr& type : node->tys(c10::attr::types)) {
    expected.push_back(Expected::from(type->expect<c10::TensorType>()));
  }
  return [expected](torch::jit::Stack& stack) {
    const bool grad_mode = c10::GradMode::is_enabled();
    const size_t n = expected.size();
    bool ok = true;
    for (size_t i = 0; i < n && ok; ++i) {
      const c10::IValue& v = torch::jit::peek(stack, i, n);
      ok = v.isTensor() && expected[i].matches(v.toTensor(), grad_mode);
    }
    torch::jit::drop(stack, n);
    stack.emplace_back(ok);
  };
}

}  // namespace torch_fuser
