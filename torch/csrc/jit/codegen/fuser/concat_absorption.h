// aten::cat (aten::stack) of values computed elementwise moves into a fusion group as
// prim::FusedConcat (fuser::FusedStack): the kernel writes each piece straight into its
// slice of the result (a strided slice when the dim is not the outermost), so the join
// costs no copy and no kernel of its own. The groups and fusible ops computing the pieces
// merge into one (siblings, joined because the concatenation reads them all).
#pragma once

#include "torch/csrc/jit/codegen/fuser/pass_declarations.h"

namespace torch_fuser {

// In `block` and the blocks nested in it; needs the state's alias analysis (rebuilt after
// each concatenation moved). Returns how many concatenations moved into groups.
int absorbConcatenations(FusionState& state, torch::jit::Block* block);

}  // namespace torch_fuser
