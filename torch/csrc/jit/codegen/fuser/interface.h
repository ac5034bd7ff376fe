// torch_fuser's public C++ API (namespace torch_fuser); installed as
// <torch_fuser/interface.h> (find_package(TorchFuser), target TorchFuser::torch_fuser).
// Loading libtorch_fuser by any means registers a TorchScript post-pass and the operator
// for fuser::FusionGroup; enable() turns the pass on, as does TORCH_FUSER_ENABLE=1 in the
// environment of a program that cannot call it. See README.md.
#pragma once

#include <ATen/core/ivalue.h>
#include <ATen/core/stack.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace torch {
namespace jit {
struct Graph;
struct Node;
}  // namespace jit
}  // namespace torch

namespace torch_fuser {

// Turns fusion on for the given devices and switches PyTorch's own fusers (legacy and
// NNC/TensorExpr) off so they do not take the nodes first. disable() restores their
// settings from before the first enable().
void enable(bool cpu = true, bool cuda = true);
void disable();
bool isEnabled();

// The smallest fusion group kept, in ops, on `device` (cpu or cuda; none: both). Graphs
// optimized afterwards follow it; 1 gives lone elementwise ops kernels of their own.
// Defaults: TORCH_FUSER_MIN_GROUP_SIZE, else the measured defaults in README.md.
void setMinGroupSize(int64_t size, c10::optional<c10::DeviceType> device = c10::nullopt);
int64_t minGroupSize(c10::DeviceType device);

// Runs the fusion pass on `graph` in place (whether or not fusion is enabled).
void fuseGraph(std::shared_ptr<torch::jit::Graph>& graph);

// Registers the fusion of a fuser::FusionGroup node; equal subgraphs get equal keys.
int64_t registerFusion(const torch::jit::Node* fusion_group);
// Runs a registered fusion on the inputs on top of `stack`, replacing them by its outputs.
void runFusion(int64_t key, torch::jit::Stack& stack);

// Fuses a copy of `graph`, runs it on `inputs` and returns the source of every kernel
// that ran (fallbacks have none).
std::vector<std::string> debugGetFusedKernelCode(const std::shared_ptr<torch::jit::Graph>& graph,
                                                 const std::vector<c10::IValue>& inputs);

// What explain() found: per node of each graph the pass ran on, fused or why not, and per
// fusion group what the executor did with it.
struct NodeExplanation {
  int64_t graph = 0;     // which run of the pass (a forward graph, a fallback, ...)
  std::string op;        // "aten::sigmoid"
  std::string location;  // "model.py:12", or "" without source
  std::string type;      // of its first result, as profiled where it was
  int64_t group = -1;    // index into Explanation::groups, -1 when not fused ...
  std::string reason;    // ... and then why, in the pass's words
};
struct GroupExplanation {
  int64_t graph = 0;
  std::string kernel_name;           // fused_mul_add_sigmoid (as in PYTORCH_FUSION_DEBUG)
  std::vector<std::string> ops;      // in order
  std::vector<std::string> kernels;  // compiled: "<device> <input dtypes> -> <output dtypes>"
  int64_t launches = 0;              // for this fusion in this process so far
  std::vector<std::pair<std::string, int64_t>> fallbacks;  // reason, count
};
struct Explanation {
  std::vector<NodeExplanation> nodes;
  std::vector<GroupExplanation> groups;
  std::vector<std::string> notes;  // e.g. fusion disabled
  std::string optimized_graph;     // of the last run
  std::string report() const;      // all of the above, readable
};
// Runs a fresh function made from `graph` (its own executor, so the pass runs again)
// `runs` times on `inputs` under the current grad mode, and reports what the pass did with
// each node and what the executor did with each group.
Explanation explain(const std::shared_ptr<torch::jit::Graph>& graph,
                    const std::vector<c10::IValue>& inputs, int runs = 3);

struct Stats {
  int64_t kernels_compiled;
  int64_t memory_cache_hits;
  int64_t disk_cache_hits;
  int64_t fallbacks;
  int64_t kernel_launches;  // fused kernels run (a call that falls back runs none)
  double compile_seconds;
  int64_t fusion_groups_registered;
  int64_t fusions_cached;    // KernelSpecs in the registry now
  int64_t kernels_cached;    // compiled kernels (incl. fallback decisions) they hold
  int64_t fusions_evicted;   // by the max_fusions bound
  int64_t kernels_evicted;   // by the max_kernels_per_fusion bound
  int64_t compiles_pending;  // kernels queued or compiling in the background now
  int64_t graphs_captured;   // CUDA graphs captured (their kernels are not in kernel_launches)
  int64_t graph_replays;
};
Stats getStats();
// The counters on one line, "kernels_compiled=3 kernel_launches=40 fallbacks=0 …" (what
// TORCH_FUSER_STATS_AT_EXIT=1 prints to stderr when the process exits).
std::string statsSummary();
int64_t nCompiledKernels();
// Drops all compiled kernels (the counters stay); fusions recompile on next use.
void clearCache();
// Background compilation (on by default; TORCH_FUSER_SYNC_COMPILE=1 turns it off): the
// first call that needs a kernel queues its compile on a worker thread and runs the
// fusion's fallback (the interpreter), as do later calls until the kernel is ready; then
// calls run it. Off: the first call compiles and waits. kernel_source/explain wait either
// way. waitForCompilations() blocks until every compile queued so far has finished.
void setBackgroundCompilation(bool on);
bool isBackgroundCompilation();
void waitForCompilations();

// Bounds of the in-memory caches (least recently used entries go first; graphs in use
// keep working). Defaults 4096 / 32, or TORCH_FUSER_MAX_FUSIONS /
// TORCH_FUSER_MAX_KERNELS_PER_FUSION; a value <= 0 leaves that bound unchanged.
void setCacheLimits(int64_t max_fusions, int64_t max_kernels_per_fusion);

}  // namespace torch_fuser
