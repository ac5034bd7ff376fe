// The graph pass: wraps fusible elementwise subgraphs in fuser::FusionGroup nodes.
//
// A pipeline of small rewrites (graph_fuser.cpp runs them in this order; each has its
// own file and IR-text tests in test_fusion_pass.cpp, and all share a FusionState):
//   1. expose elementwise work: inference batch norm as arithmetic
//      (inference_batch_norm.h), profile nodes next to fusible ops dropped
//      (profile_cleanup.h; what they said stays in ProfileFacts), autodiff's x * 1 before
//      a sum dropped (multiply_by_one.h), ops below a cat of inputs sunk into its pieces
//      (concat_sinking.h);
//   2. form groups: producers merged into consumers within each block, never across
//      block boundaries or a write (producer_merging.h), chunks pushed through the ops
//      computing the chunked value (chunk_pushing.h), autodiff's sizes of intermediates
//      computed from group inputs (sizes_from_inputs.h), cat/stack of computed pieces
//      written by the kernel (concat_absorption.h), siblings over one iteration space
//      merged (sibling_fusion.h), lone ops wrapped at a minimum group size of 1;
//   3. finish groups: below the minimum size undone, scalar constants, views and chunks
//      of inputs taken in (group_finishing.h); autodiff's size bookkeeping gathered into
//      one node (size_bookkeeping.h); run by the profiling executor, groups formed from
//      profiles are guarded (guards.h);
//   4. on profiled CUDA graphs, the longest run a CUDA graph can replay is wrapped in a
//      fuser::CapturedGraph (capture_region.h).
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
