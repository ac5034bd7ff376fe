// Autodiff's forward graphs compute, for every broadcasting op, the sizes its backward
// needs: aten::size of operands and results, prim::BroadcastSizes of them, and
// aten::_size_if_not_equal(operand, result) — about 50 interpreter nodes per step of a
// scripted LSTM loop around its one fused kernel, each a dispatch and a list allocation.
// The pass moves them into one fuser::Sizes node that evaluates them natively: one
// dispatch, and no lists for the intermediate sizes.
#pragma once

#include "torch/csrc/jit/codegen/fuser/pass_declarations.h"

#include <ATen/core/interned_strings.h>
#include <ATen/core/stack.h>

namespace torch_fuser {

// fuser::Sizes: tensor inputs -> the size values; attr::Subgraph holds the size nodes.
c10::Symbol sizesKind();

// In `block` and each block nested in it (a loop body's sizes stay in that body): gathers
// the size nodes whose results only other size nodes and the block's return read, and
// whose tensors nothing writes, into one fuser::Sizes node before the return. Returns how
// many nodes it took in (0: nothing changed).
int gatherSizeBookkeeping(torch::jit::Block* block, const torch::jit::AliasDb& alias_db);

// The operation run for a fuser::Sizes node.
torch::jit::Operation createSizesOperation(const torch::jit::Node* node);

}  // namespace torch_fuser
