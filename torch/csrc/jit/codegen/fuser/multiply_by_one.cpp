#include "torch/csrc/jit/codegen/fuser/multiply_by_one.h"

#include "torch/csrc/jit/codegen/fuser/lowering.h"
#include "torch/csrc/jit/codegen/fuser/profile_facts.h"

#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/ir.h>

#include <algorithm>

namespace torch_fuser {
namespace {

using torch::jit::Node;

// Whether `node` is x * 1 with a result of x's dtype.
bool isMultiplicationByOne(const Node* node, const ProfileFacts& facts) {
  if (node->kind() != c10::aten::mul || node->inputs().size() != 2) return false;
  const c10::optional<c10::IValue> factor = torch::jit::toIValue(node->input(1));
  if (!factor || !(factor->isInt() || factor->isDouble()) || factor->toScalar().toDouble() != 1.0)
    return false;
  const c10::TensorTypePtr type = facts.type(node->input(0));
  if (!type || !type->scalarType() || *type->scalarType() == c10::kBool) return false;
  return c10::isFloatingType(*type->scalarType()) || factor->isInt();
}

bool onlySummed(const Node* node) {
  const auto& uses = node->output()->uses();
  return !uses.empty() && std::all_of(uses.begin(), uses.end(), [](const torch::jit::Use& use) {
    return isSumToSize(use.user) && use.offset == 0;
  });
}

}  // namespace

int dropMultiplicationsByOneBeforeSums(torch::jit::Block* block, const ProfileFacts& facts) {
  int dropped = 0;
  for (auto it = block->nodes().begin(); it != block->nodes().end();) {
    Node* node = *it++;
    for (torch::jit::Block* sub : node->blocks())
      dropped += dropMultiplicationsByOneBeforeSums(sub, facts);
    if (!isMultiplicationByOne(node, facts) || !onlySummed(node)) continue;
    node->output()->replaceAllUsesWith(node->input(0));
    node->destroy();
    ++dropped;
  }
  return dropped;
}

}  // namespace torch_fuser
