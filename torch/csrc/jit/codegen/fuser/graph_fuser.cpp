#include "torch/csrc/jit/codegen/fuser/graph_fuser.h"

#include "torch/csrc/jit/codegen/fuser/capture_region.h"
#include "torch/csrc/jit/codegen/fuser/concat_absorption.h"
#include "torch/csrc/jit/codegen/fuser/concat_sinking.h"
#include "torch/csrc/jit/codegen/fuser/cuda/graph_capture_cuda.h"
#include "torch/csrc/jit/codegen/fuser/explain.h"
#include "torch/csrc/jit/codegen/fuser/fusion_state.h"
#include "torch/csrc/jit/codegen/fuser/group_finishing.h"
#include "torch/csrc/jit/codegen/fuser/guards.h"
#include "torch/csrc/jit/codegen/fuser/inference_batch_norm.h"
#include "torch/csrc/jit/codegen/fuser/matmul_batching.h"
#include "torch/csrc/jit/codegen/fuser/multiply_by_one.h"
#include "torch/csrc/jit/codegen/fuser/options.h"
#include "torch/csrc/jit/codegen/fuser/producer_merging.h"
#include "torch/csrc/jit/codegen/fuser/profile_cleanup.h"
#include "torch/csrc/jit/codegen/fuser/sibling_fusion.h"
#include "torch/csrc/jit/codegen/fuser/size_bookkeeping.h"

#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/jit_log.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>

#include <algorithm>
#include <vector>

namespace torch_fuser {

using torch::jit::Block;
using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;

c10::Symbol fusionGroupKind() {
  static const c10::Symbol kind = c10::Symbol::fromQualString("fuser::FusionGroup");
  return kind;
}

namespace {

// Wraps each group formed from profiles in a guard (guards.h) checking the facts it was
// formed from.
void guardGroups(const FusionState& state, Block* block) {
  for (Node* group : allGroups(block)) {
    if (isTypeGuardedIf(group->owningBlock()->owningNode())) {
      continue;  // guarded by an earlier run of the pass
    }
    std::vector<c10::TensorTypePtr> expected;
    for (const Value* input : group->inputs()) expected.push_back(state.facts().type(input));
    guardFusionGroup(group, expected);
  }
}

}  // namespace

void fuseElementwise(const std::shared_ptr<Graph>& graph, FusionTargets targets) {
  GRAPH_DUMP("Before torch_fuser's elementwise fusion: ", graph);
  FusionState state(graph, targets);
  Block* block = graph->block();
  // Groups formed from profiles are guarded when the profiling executor runs the pass (it
  // turns the guards' fallbacks into functions); a graph without profiles (the legacy
  // executor specializes on argument types itself, or a graph built by hand) keeps
  // unguarded groups whose kernels check each call.
  const bool profiled = targets.guard && !state.facts().empty();

  // Rewrites that expose elementwise work, before any group exists.
  if (profiled) batchMatmuls(state, graph);
  decomposeInferenceBatchNorms(
      block, state.facts(), [&state](const Value* v) { return state.whyValueRefused(v).empty(); });
  dropProfilesAroundFusibleNodes(state, block);
  dropMultiplicationsByOneBeforeSums(block, state.facts());
  sinkOpsBelowConcatenations(block, state.facts(),
                             [&state](const Node* node) { return state.isFusible(node); });

  // Forming groups: vertical merges (with chunk pushing), joins, siblings.
  state.rebuildAliasDb();
  mergeProducers(state, block);
  absorbConcatenations(state, block);
  fuseSiblings(state, block);
  if (std::min(targets.min_group_size_cpu, targets.min_group_size_cuda) <= 1) {
    wrapLoneOps(state, block);
  }

  // Only after all merging: unmerging invalidates alias analysis.
  finishGroups(state, block);
  // Chunks whose pieces all moved into groups are left without readers.
  torch::jit::EliminateDeadCode(graph);
  if (ExplainRecorder* recorder = ExplainRecorder::active()) state.recordVerdicts(*recorder);
  // Then autodiff's size bookkeeping around the groups, as one node.
  state.rebuildAliasDb();
  gatherSizeBookkeeping(block, state.aliasDb());
  if (profiled) {
    guardGroups(state, block);
    dropRemainingProfiles(block);
    if (targets.cuda && graphCaptureRequested() && cuda::canCaptureGraphs()) {
      wrapCapturableRun(graph, state.facts());
    }
  }
  GRAPH_DUMP("After torch_fuser's elementwise fusion: ", graph);
}

}  // namespace torch_fuser
