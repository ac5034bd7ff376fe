// explain(): why each node was fused or not, in the words of the pass and the executor.
//
// While an ExplainRecorder lives on a thread, every run of the pass on that thread
// records its verdict on each node (graph_fuser.cpp: the same checks that decided it),
// and finish() adds what the executor did with each group: kernels compiled, launches,
// fallbacks per reason (KernelSpec's counters).
#pragma once

#include "torch/csrc/jit/codegen/fuser/interface.h"

#include <ATen/core/jit_type.h>

#include <memory>
#include <string>
#include <vector>

namespace torch_fuser {

class ExplainRecorder {
 public:
  // One run of the pass: its nodes, and the subgraphs of its groups (NodeExplanation::group
  // indexes them).
  struct GraphVerdicts {
    std::vector<NodeExplanation> nodes;
    std::vector<std::shared_ptr<torch::jit::Graph>> groups;
  };

  ExplainRecorder();
  ~ExplainRecorder();
  ExplainRecorder(const ExplainRecorder&) = delete;
  ExplainRecorder& operator=(const ExplainRecorder&) = delete;

  // The recorder of this thread, or null (then the pass records nothing).
  static ExplainRecorder* active();
  // Whether a node gets a line: ops, not constants, lists, tuples or profiles.
  static bool isReported(const torch::jit::Node* node);
  // A node's line; `type` (profiled) is preferred to the node's own output type.
  static NodeExplanation describe(const torch::jit::Node& node, int64_t group, std::string reason,
                                  const c10::TensorTypePtr& type);

  void addGraph(GraphVerdicts verdicts);
  Explanation finish(const std::shared_ptr<torch::jit::Graph>& optimized) const;

 private:
  std::vector<GraphVerdicts> graphs_;
  ExplainRecorder* previous_;
};

}  // namespace torch_fuser
