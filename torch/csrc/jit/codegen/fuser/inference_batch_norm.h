// Batch norm in inference (running statistics, training=False) is elementwise:
//   (x - mean) * rsqrt(var + eps) * weight + bias, each statistic broadcast along dim 1.
// This rewrite spells it so, the statistics unsqueezed to x's rank (views the group takes
// in, input_views.h), so the normalization fuses with the ops around it.
#pragma once

#include "torch/csrc/jit/codegen/fuser/pass_declarations.h"

#include <functional>

namespace torch_fuser {

// Rewrites each aten::batch_norm in `block` (and nested blocks) with constant
// training=False, running statistics and eps, whose input has a known rank >= 2 and
// `fusible(input)`. Returns how many were rewritten.
int decomposeInferenceBatchNorms(torch::jit::Block* block, const ProfileFacts& facts,
                                 const std::function<bool(const torch::jit::Value*)>& fusible);

}  // namespace torch_fuser
