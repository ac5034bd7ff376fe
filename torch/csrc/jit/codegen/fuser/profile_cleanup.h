// The profiling executor leaves a prim::profile node on every use of a value. Between two
// fusible ops they would keep the ops apart, so the pass drops the ones next to a fusible
// op (or a list a cat/stack joins) first; what they said stays in the pass's ProfileFacts.
#pragma once

#include "torch/csrc/jit/codegen/fuser/pass_declarations.h"

namespace torch_fuser {

// In `block` and the blocks nested in it. Returns how many profile nodes were dropped.
int dropProfilesAroundFusibleNodes(const FusionState& state, torch::jit::Block* block);

// Drops every profile node left, once groups are formed and guarded. The profiling
// executor removes them itself only where NNC runs (which torch_fuser switches off): left
// in place, each is an interpreter instruction on every call (about 300 per backward
// call of a scripted LSTM loop's unrolled body). Returns how many were dropped.
int dropRemainingProfiles(torch::jit::Block* block);

}  // namespace torch_fuser
