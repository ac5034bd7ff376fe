#include "torch/csrc/jit/codegen/fuser/profile_facts.h"

#include "torch/csrc/jit/codegen/fuser/op_table.h"

#include <torch/csrc/jit/ir/ir.h>

namespace torch_fuser {

using torch::jit::Block;
using torch::jit::Node;
using torch::jit::Value;

ProfileFacts::ProfileFacts(Block& block) {
  collect(block);
  propagateDevices(block);
}

void ProfileFacts::collect(Block& block) {
  for (Node* node : block.nodes()) {
    for (Block* sub : node->blocks()) collect(*sub);
    if (node->kind() != c10::prim::profile || !node->hasAttribute(c10::attr::profiled_type)) {
      continue;
    }
    const auto type = node->ty(c10::attr::profiled_type)->cast<c10::TensorType>();
    if (!type || (!type->scalarType() && !type->device() && !type->dim())) continue;
    note(node->output(), type);
    note(node->input(), type);
  }
}

void ProfileFacts::note(const Value* v, const c10::TensorTypePtr& type) {
  auto inserted = types_.emplace(v->unique(), type);
  if (!inserted.second) inserted.first->second = inserted.first->second->merge(*type);
  const c10::TensorTypePtr& merged = inserted.first->second;
  if (merged->device()) {
    devices_.insert_or_assign(v->unique(), *merged->device());
  } else {
    devices_.erase(v->unique());
  }
}

void ProfileFacts::propagateDevices(Block& block) {
  for (Node* node : block.nodes()) {
    for (Block* sub : node->blocks()) propagateDevices(*sub);
    if (node->outputs().size() != 1 || !findFusibleOp(node)) continue;
    if (device(node->output())) continue;
    // Zero-dim inputs may live on the CPU next to CUDA tensors: they do not decide.
    c10::optional<c10::Device> common;
    bool agree = true;
    for (const Value* input : node->inputs()) {
      const c10::optional<c10::Device> d = device(input);
      if (!d || rank(input) == c10::optional<int64_t>(0)) continue;
      agree = agree && (!common || *common == *d);
      common = d;
    }
    if (common && agree) devices_.emplace(node->output()->unique(), *common);
  }
}

c10::TensorTypePtr ProfileFacts::type(const Value* v) const {
  auto it = types_.find(v->unique());
  if (it != types_.end()) return it->second;
  return v->type()->cast<c10::TensorType>();
}

c10::optional<c10::Device> ProfileFacts::device(const Value* v) const {
  if (const auto type = v->type()->cast<c10::TensorType>()) {
    if (type->device()) return type->device();
  }
  auto it = devices_.find(v->unique());
  if (it != devices_.end()) return it->second;
  return c10::nullopt;
}

c10::optional<int64_t> ProfileFacts::rank(const Value* v) const {
  for (const c10::TensorTypePtr& t : {v->type()->cast<c10::TensorType>(), type(v)}) {
    if (t && t->dim()) return static_cast<int64_t>(*t->dim());
  }
  return c10::nullopt;
}

c10::optional<std::vector<int64_t>> ProfileFacts::sizes(const Value* v) const {
  for (const c10::TensorTypePtr& t : {v->type()->cast<c10::TensorType>(), type(v)}) {
    if (t && t->sizes().concrete_sizes()) return *t->sizes().concrete_sizes();
  }
  return c10::nullopt;
}

}  // namespace torch_fuser
