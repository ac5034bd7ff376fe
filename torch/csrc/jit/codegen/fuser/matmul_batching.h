// Batches the matmuls of unrolled RNN loops with PyTorch's own BatchMM rewrite.
//
// The profiling executor runs BatchMM (sums of >= 4 matmuls become one matmul of
// concatenated operands, >= 8 matmuls sharing an operand one matmul and a chunk) right
// before the fusers. On NNC's path it first strips the prim::profile nodes; on the path
// it takes when NNC is off — ours — it does not, and a profile node on every edge between
// an mm and its add or transpose hides each tree from BatchMM. An unrolled LSTM loop then
// runs about 2 matmuls per time step more in training than under NNC (weight gradients
// summed over the unrolled steps, the input projections of the steps). This step drops the
// profiles on those edges (what they said stays in the pass's ProfileFacts) and runs
// BatchMM again, before groups form. TORCH_FUSER_BATCH_MM=0 leaves the graph as it is.
#pragma once

#include "torch/csrc/jit/codegen/fuser/pass_declarations.h"

#include <memory>

namespace torch_fuser {

// `graph` is `state`'s. Returns the number of profile nodes dropped for BatchMM (0 where
// it was not run). Profiles stay on adds BatchMM would get wrong (alpha other than 1,
// operands of different profiled shapes), and graphs with a matmul on a device the fuser
// is off for are left alone.
int batchMatmuls(const FusionState& state, std::shared_ptr<torch::jit::Graph> graph);

}  // namespace torch_fuser
