// aten::cat (aten::stack) of values computed elementwise moves into a fusion group as
// prim::FusedConcat (fuser::FusedStack): the kernel writes each piece straight into its
// slice of the result (a strided slice when the dim is not the outermost), so the join
// costs no copy and no kernel of its own. The groups and fusible ops computing the pieces
// merge into one (siblings, joined because the concatenation reads them all).
#pragma once

namespace torch {
namespace jit {
struct Block;
}  // namespace jit
}  // namespace torch

namespace torch_fuser {

class FusionState;

// In `block` and the blocks nested in it; needs the state's alias analysis (rebuilt after
// each concatenation moved). Returns how many concatenations moved into groups.
int absorbConcatenations(FusionState& state, torch::jit::Block* block);

}  // namespace torch_fuser
