// Views of fusion inputs: unsqueeze / squeeze(dim) / transpose / t / permute / expand /
// view / reshape with constant arguments, applied to a value the group takes from outside.
// A reshape that would have to copy (strides that do not allow the view) falls back. Moved into the
// group (graph_fuser.cpp), they cost no kernel of their own and never split a group
// (b * d.unsqueeze(1) + c is one kernel); the kernel reads the input through the view's
// strides (see ViewStep, KernelTensor).
#pragma once

#include "torch/csrc/jit/codegen/fuser/view_step.h"

#include <c10/util/Optional.h>

namespace torch {
namespace jit {
struct Node;
}  // namespace jit
}  // namespace torch

namespace torch_fuser {

// The view `node` applies, when it is one of the views above with constant arguments.
c10::optional<ViewStep> inputViewStep(const torch::jit::Node* node);

inline bool isInputView(const torch::jit::Node* node) {
  return inputViewStep(node).has_value();
}

}  // namespace torch_fuser
