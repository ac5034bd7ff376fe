// Guards: a fusion group formed from what profiling saw runs only while its inputs still
// look that way; otherwise the graph executor re-specializes.
//
// The pass wraps each group it formed from profiles as
//   %ok = fuser::TypeGuard[types=...](tensor inputs)
//   %outs = prim::If(%ok)
//     block0: fuser::FusionGroup(...)
//     block1: prim::FallbackGraph(...)   the group's computation in standard ops
// The profiling executor turns every prim::FallbackGraph into a call of a function with
// its own executor, which profiles the new situation and optimizes again (running this
// pass, so kernels come back for the new dtype, device, rank or grad mode). A guard
// checks what the group was specialized for: each tensor input's dtype, device, rank and
// whether it requires grad under the current grad mode. Layouts are not guarded: kernels
// are compiled per layout at run time and never fall back for one.
#pragma once

#include <ATen/core/interned_strings.h>
#include <ATen/core/jit_type.h>
#include <ATen/core/stack.h>

#include <functional>
#include <vector>

namespace torch {
namespace jit {
struct Node;
}  // namespace jit
}  // namespace torch

namespace torch_fuser {

// fuser::TypeGuard: N tensor inputs -> bool; attr::types holds the expected types.
c10::Symbol typeGuardKind();

// Wraps `group` as above. expected[i] describes the group's input i (null or a non-tensor
// input: not checked). No guard is inserted when nothing is checked.
void guardFusionGroup(torch::jit::Node* group, const std::vector<c10::TensorTypePtr>& expected);

// A prim::If that guardFusionGroup made: it branches on a fuser::TypeGuard, the group in
// one branch, its fallback in the other.
bool isTypeGuardedIf(const torch::jit::Node* node);

// The operation run for a fuser::TypeGuard node.
torch::jit::Operation createTypeGuardOperation(const torch::jit::Node* node);

}  // namespace torch_fuser
