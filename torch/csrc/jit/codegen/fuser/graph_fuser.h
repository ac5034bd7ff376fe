// The graph pass: wraps fusible elementwise subgraphs in fuser::FusionGroup nodes.
//
// Within each block (never across block boundaries) it walks nodes from last to first
// and merges each fusible node's producers into it when they are fusible too, on the same
// device, and the move is topologically valid under alias analysis (no reordering across
// a write or side effect). Values still used outside a group become group outputs.
// Scalar constants are moved inside groups; single-op groups are undone. prim::profile
// nodes next to fusible ops are dropped (profiling executor with NNC off), what they said
// kept in ProfileFacts (profile_facts.h); run by the executor, groups formed from
// profiles are guarded (guards.h).
#pragma once

#include <ATen/core/interned_strings.h>

#include <memory>

namespace torch {
namespace jit {
struct Graph;
}  // namespace jit
}  // namespace torch

namespace torch_fuser {

// fuser::FusionGroup, the node kind of a fusion (subgraph in attr::Subgraph).
c10::Symbol fusionGroupKind();

struct FusionTargets {
  bool cpu = true;
  bool cuda = true;
  // Guard groups formed from profiles (guards.h). Only where the profiling executor runs
  // the pass: it alone turns the guards' prim::FallbackGraph into a function.
  bool guard = false;
  // The smallest group kept, in ops, for groups on CPU and on CUDA (a group whose device
  // no type or profile tells needs the larger). 1 fuses lone ops into kernels of their own.
  int min_group_size_cpu = 2;
  int min_group_size_cuda = 2;
};

void fuseElementwise(const std::shared_ptr<torch::jit::Graph>& graph, FusionTargets targets);

}  // namespace torch_fuser
