// Autodiff reads the sizes of intermediate values (aten::size for its _size_if_not_equal).
// An elementwise result has the broadcast shape of the tensors it is computed from, so
// aten::size of a group output becomes prim::BroadcastSizes of the sizes of the group
// inputs it is computed from; the value then need not leave its group, and a chunk of
// the group's result can move into it (the LSTM cell in training: one group, as without
// grad). A piece of a chunk gets prim::ChunkSizes of the chunked value's broadcast
// shape (its gate sums then stay inside the LSTM loop's group too). Not for values shaped
// by joins, views or sums, or by chunks of chunks.
#pragma once

#include "torch/csrc/jit/codegen/fuser/pass_declarations.h"

namespace torch_fuser {

// Rewrites aten::size of group outputs in `block` and drops group outputs nothing reads
// then. Returns whether anything changed (alias analysis is then rebuilt).
bool sizesFromGroupInputs(FusionState& state, torch::jit::Block* block);

}  // namespace torch_fuser
