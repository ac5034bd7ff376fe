// Horizontal fusion, which neither NNC nor the legacy fuser has: groups and lone fusible
// ops that read a common input and run over the same iteration space become one kernel
// (`return x.sigmoid(), x.tanh()`: x is read once, one launch instead of two).
//
// The spaces are equal when both read the same tensors, or when the shapes of what each
// reads are known (types or profiles) and broadcast to the same shape. Known from
// profiles is a hint, so it is guarded per call: the executor launches only when every
// output has the iteration shape (outputsHaveIterationShape) and otherwise runs the
// group's nodes (fallback.h). Not for groups that write a join or cut pushed chunks
// (their space is not their inputs' broadcast), nor for random ops.
#pragma once

#include "torch/csrc/jit/codegen/fuser/pass_declarations.h"

namespace torch_fuser {

// In `block` and the blocks nested in it, after producer merging and concatenation
// absorption, before groups are finished. Returns how many merges were made.
int fuseSiblings(FusionState& state, torch::jit::Block* block);

}  // namespace torch_fuser
