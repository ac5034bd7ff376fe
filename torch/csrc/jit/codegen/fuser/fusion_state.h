// What the pass's rewrites share while they form fusion groups in one graph
// (graph_fuser.cpp runs them in order): the graph, the targets, what types and profiles
// say (profile_facts.h), alias analysis, the rules for what may be fused, and for
// explain() why nodes were left out.
#pragma once

#include "torch/csrc/jit/codegen/fuser/graph_fuser.h"
#include "torch/csrc/jit/codegen/fuser/op_table.h"
#include "torch/csrc/jit/codegen/fuser/pass_declarations.h"
#include "torch/csrc/jit/codegen/fuser/profile_facts.h"

#include <c10/core/Device.h>
#include <c10/util/Optional.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace torch_fuser {

class ExplainRecorder;

class FusionState {
 public:
  FusionState(std::shared_ptr<torch::jit::Graph> graph, FusionTargets targets);
  ~FusionState();
  FusionState(const FusionState&) = delete;
  FusionState& operator=(const FusionState&) = delete;

  torch::jit::Graph& graph() const { return *graph_; }
  const std::shared_ptr<torch::jit::Graph>& sharedGraph() const { return graph_; }
  const FusionTargets& targets() const { return targets_; }
  const ProfileFacts& facts() const { return facts_; }

  // Alias analysis of the graph. Merges through SubgraphUtils keep it current; a rewrite
  // that changes the graph otherwise rebuilds it.
  torch::jit::AliasDb& aliasDb() const;
  bool hasAliasDb() const { return alias_db_ != nullptr; }
  void rebuildAliasDb();

  // Why values of this dtype and device (known or profiled) may not be fused, or "": a
  // device switched off by enable() forms no groups for values profiled on it.
  std::string whyValueRefused(const torch::jit::Value* v) const;
  // Why `node` cannot be part of a group, or "" when it can.
  std::string whyNotFusible(const torch::jit::Node* node) const;
  bool isFusible(const torch::jit::Node* node) const { return whyNotFusible(node).empty(); }

  // The broadcast shape of `values`, when types or profiles give all their sizes and
  // they broadcast.
  c10::optional<std::vector<int64_t>> knownBroadcast(
      const std::vector<const torch::jit::Value*>& values) const;

  // The device of a group's (or node's) tensors, where a type or profile tells.
  c10::optional<c10::Device> deviceOf(const torch::jit::Node* node) const;
  // The smallest group kept on `device`; on an unknown device, the larger of the two.
  int minGroupSize(const c10::optional<c10::Device>& device) const;

  // For explain(): a merge or push refused, with why (a string literal), and nodes a
  // group below the minimum size was undone into.
  void refuse(const torch::jit::Node* node, const char* why) { refused_[node] = why; }
  void forgetRefusal(const torch::jit::Node* node) { refused_.erase(node); }
  void noteLone(const torch::jit::Node* node) { lone_.insert(node); }
  // Why a node outside every group stayed out, from what the pass decided about it.
  std::string whyLeftOut(const torch::jit::Node* node) const;
  // Records what the pass did with each node of the graph (see explain.h).
  void recordVerdicts(ExplainRecorder& recorder) const;

 private:
  std::string whyNotFusibleSumToSize(const torch::jit::Node* node) const;
  std::string whyConversionNotFusible(const torch::jit::Node* node, LoweringPattern pattern) const;
  c10::optional<c10::Device> randomDevice(const torch::jit::Node* node) const;

  std::shared_ptr<torch::jit::Graph> graph_;
  FusionTargets targets_;
  ProfileFacts facts_;
  std::unique_ptr<torch::jit::AliasDb> alias_db_;
  std::unordered_set<const torch::jit::Node*> lone_;
  std::unordered_map<const torch::jit::Node*, const char*> refused_;
};

// Helpers on fusion groups (fuser::FusionGroup nodes) the rewrites share.
bool isGroup(const torch::jit::Node* node);
// Every group in `block` and the blocks nested in it, collected before a rewrite changes
// the node lists.
std::vector<torch::jit::Node*> allGroups(torch::jit::Block* block);
// The subgraph input bound to `outer`, added when the group does not take it yet.
torch::jit::Value* subgraphInputFor(torch::jit::Node* group, torch::jit::Value* outer);
// Drops the outputs of `group` nothing reads (keeping at least one).
void dropUnreadOutputs(torch::jit::Node* group);
// Whether `v` is the result of a _grad_sum_to_size (computed by its node, or inside the
// group that is its node). Such a reduction stays at an output of its group, where it
// runs after the kernel; read inside the group, every call that reduces (autodiff keeps
// the ones that do) would fall back.
bool isSumToSizeResult(const torch::jit::Value* v);
// False only when the devices of both nodes' results are known and differ.
bool sameDevice(const torch::jit::Node* a, const torch::jit::Node* b);
// The ops in a group (constants not counted).
size_t countComputeNodes(const torch::jit::Node* group);

}  // namespace torch_fuser
