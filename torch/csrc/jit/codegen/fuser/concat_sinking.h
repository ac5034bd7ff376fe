// An elementwise op reading a concatenation computes the same as the concatenation of the
// op applied to each piece: log(cat([x, y, z])) == cat([log(x), log(y), log(z)]) when the
// op's other operands do not vary along the concatenated dim. Sunk below the op, the
// concatenation becomes the output of one kernel that computes every piece (the pass's
// joins), instead of a copy followed by a kernel reading it.
#pragma once

#include "torch/csrc/jit/codegen/fuser/pass_declarations.h"

#include <functional>

namespace torch_fuser {

// Sinks aten::cat below its only reader while that reader is `fusible`, not random, and
// the pieces are known (typed or profiled) to share one shape. Returns how many ops moved.
int sinkOpsBelowConcatenations(torch::jit::Block* block, const ProfileFacts& facts,
                               const std::function<bool(const torch::jit::Node*)>& fusible);

}  // namespace torch_fuser
