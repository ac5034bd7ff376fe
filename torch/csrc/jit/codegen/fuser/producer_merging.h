// Vertical fusion, the heart of the pass. Within each block (never across block
// boundaries) it walks nodes from last to first and merges each fusible node's producers
// into it when they are fusible too, on the same device, and the move is topologically
// valid under alias analysis (no reordering across a write or side effect); values still
// used outside a group become group outputs. Chunks of values groups compute are pushed
// into them (chunk_pushing.h), and autodiff's aten::size of intermediates is computed
// from the group's inputs (sizes_from_inputs.h), each followed by merging again.
#pragma once

#include "torch/csrc/jit/codegen/fuser/pass_declarations.h"

namespace torch_fuser {

// Merges `producer` (a group or a fusible op before `consumer` in its block, not
// necessarily feeding it) into `consumer` (made a group when it is a lone op), moving
// `producer` right before it, when they may share a kernel: same device, a topologically
// valid move under alias analysis, no pushed chunk cutting the producer's result, no
// _grad_sum_to_size read inside. Returns the group, or null (the refusal is recorded for
// explain()).
torch::jit::Node* tryMerge(FusionState& state, torch::jit::Node* consumer,
                           torch::jit::Node* producer);

// In `block` and the blocks nested in it; needs the state's alias analysis.
void mergeProducers(FusionState& state, torch::jit::Block* block);

}  // namespace torch_fuser
