// Batches the matmuls of unrolled RNN loops with PyTorch's own BatchMM rewrite.
//
// The profiling executor runs BatchMM (sums of >= 4 matmuls become one matmul of
// concatenated operands, >= 8 matmuls sharing an operand one matmul and a chunk) right
// before the fusers. On NNC's path it first strips the prim::profile nodes; on the path
// it takes when NNC is off — ours — it does not, and a profile node on every edge between
// an mm and its add or transpose hides each tree from BatchMM. An unrolled LSTM loop then
// runs about 3 matmuls per time step more in training than under NNC (weight gradients
// summed over the unrolled steps, the input projections of the steps). This step drops the
// profiles on those edges (what they said stays in the pass's ProfileFacts) and runs
// BatchMM again, before groups form. TORCH_FUSER_BATCH_MM=0 leaves the graph as it is.
#pragma once

#include <memory>

namespace torch {
namespace jit {
struct Graph;
}  // namespace jit
}  // namespace torch

namespace torch_fuser {

// Returns the number of profile nodes dropped for BatchMM (0 where it was not run).
int batchMatmuls(const std::shared_ptr<torch::jit::Graph>& graph);

}  // namespace torch_fuser
