// The last rewrites of the pass, after all merging (unmerging invalidates alias
// analysis): groups below the minimum size are undone into their ops, and the others take
// in what the kernel can read for free — scalar constants as literals, views of inputs
// (input_views.h) and chunks of inputs as strided views.
#pragma once

#include "torch/csrc/jit/codegen/fuser/pass_declarations.h"

namespace torch_fuser {

// With a minimum group size of 1, a fusible op no group took gets a kernel of its own.
// Returns how many groups were made.
int wrapLoneOps(FusionState& state, torch::jit::Block* block);

// Finishes every group in `block` and the blocks nested in it, as above.
void finishGroups(FusionState& state, torch::jit::Block* block);

}  // namespace torch_fuser
