// Autodiff's gradient of add/sub's other operand is (grad * alpha)._grad_sum_to_size(..)
// with alpha usually 1: that multiplication copies grad only to be summed, and after a
// join (the LSTM cell's gate gradients) it costs a kernel of its own. x * 1 is x exactly
// (NaN, infinities, signed zeros) when the dtype stays: x floating, or integral with an
// integer 1.
#pragma once

#include "torch/csrc/jit/codegen/fuser/pass_declarations.h"

namespace torch_fuser {

// Drops x * 1 where every reader is a _grad_sum_to_size of it (which reads, never writes
// or returns it as is unless its size is None, as for grad_self), in `block` and the
// blocks nested in it. Returns how many multiplications were dropped.
int dropMultiplicationsByOneBeforeSums(torch::jit::Block* block, const ProfileFacts& facts);

}  // namespace torch_fuser
