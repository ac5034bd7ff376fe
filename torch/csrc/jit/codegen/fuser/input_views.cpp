#include "torch/csrc/jit/codegen/fuser/input_views.h"

#include <torch/csrc/jit/ir/ir.h>

namespace torch_fuser {
namespace {

using Kind = ViewStep::Kind;

// Each view's op, the types of its arguments after self, and the step it is. (Kinds
// and types, not schema strings: their spelling differs between torch versions.)
enum class Arg : uint8_t { kInt, kIntList, kBool };

struct ViewOp {
  c10::Symbol op;
  c10::SmallVector<Arg, 2> args;
  Kind kind;
};

bool hasType(const torch::jit::Value* v, Arg arg) {
  const c10::TypePtr& type = v->type();
  switch (arg) {
    case Arg::kInt:
      return type->kind() == c10::TypeKind::IntType;
    case Arg::kBool:
      return type->kind() == c10::TypeKind::BoolType;
    case Arg::kIntList:
      return type->isSubtypeOf(*c10::ListType::ofInts());
  }
  return false;
}

const ViewOp* viewOpOf(const torch::jit::Node* node) {
  static const ViewOp views[] = {
      {c10::aten::unsqueeze, {Arg::kInt}, Kind::kUnsqueeze},
      {c10::aten::squeeze, {Arg::kInt}, Kind::kSqueeze},
      {c10::aten::transpose, {Arg::kInt, Arg::kInt}, Kind::kTranspose},
      {c10::aten::t, {}, Kind::kT},
      {c10::aten::permute, {Arg::kIntList}, Kind::kPermute},
      {c10::aten::expand, {Arg::kIntList, Arg::kBool}, Kind::kExpand},
      {c10::aten::view, {Arg::kIntList}, Kind::kView},
      {c10::aten::reshape, {Arg::kIntList}, Kind::kView},
  };
  if (node->outputs().size() != 1 || node->inputs().empty() ||
      !node->input(0)->type()->cast<c10::TensorType>()) {
    return nullptr;
  }
  for (const ViewOp& view : views) {
    if (node->kind() != view.op || node->inputs().size() != view.args.size() + 1) continue;
    bool typed = true;
    for (size_t i = 0; i < view.args.size(); ++i)
      typed = typed && hasType(node->input(i + 1), view.args[i]);
    if (typed) return &view;
  }
  return nullptr;
}

}  // namespace

c10::optional<ViewStep> inputViewStep(const torch::jit::Node* node) {
  const ViewOp* view = viewOpOf(node);
  if (!view) return c10::nullopt;
  ViewStep step{view->kind, {}};
  // Every argument but self must be a constant; expand's `implicit` changes nothing here.
  const size_t args = view->kind == Kind::kExpand ? 2 : node->inputs().size();
  for (size_t i = 1; i < node->inputs().size(); ++i) {
    if (node->input(i)->node()->kind() != c10::prim::Constant) return c10::nullopt;
  }
  for (size_t i = 1; i < args; ++i) {
    c10::optional<c10::IValue> constant;
    try {
      constant = torch::jit::toIValue(node->input(i));
    } catch (const c10::Error&) {
      // A hand-written IR constant of a shape toIValue rejects (an empty list without
      // its element type): not a view this pass moves.
      return c10::nullopt;
    }
    if (!constant) return c10::nullopt;
    const c10::IValue& value = *constant;
    if (value.isInt()) {
      step.args.push_back(value.toInt());
    } else if (value.isIntList()) {
      for (int64_t v : value.toIntVector()) step.args.push_back(v);
    } else {
      return c10::nullopt;
    }
  }
  return step;
}

}  // namespace torch_fuser
