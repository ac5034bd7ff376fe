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

struct Stats {
  int64_t kernels_compiled;
  int64_t memory_cache_hits;
  int64_t disk_cache_hits;
  int64_t fallbacks;
  int64_t kernel_launches;  // fused kernels run (a call that falls back runs none)
  double compile_seconds;
  int64_t fusion_groups_registered;
  int64_t fusions_cached;   // KernelSpecs in the registry now
  int64_t kernels_cached;   // compiled kernels (incl. fallback decisions) they hold
  int64_t fusions_evicted;  // by the max_fusions bound
  int64_t kernels_evicted;  // by the max_kernels_per_fusion bound
};
Stats getStats();
// The counters on one line, "kernels_compiled=3 kernel_launches=40 fallbacks=0 …" (what
// TORCH_FUSER_STATS_AT_EXIT=1 prints to stderr when the process exits).
std::string statsSummary();
int64_t nCompiledKernels();
// Drops all compiled kernels (the counters stay); fusions recompile on next use.
void clearCache();
// Bounds of the in-memory caches (least recently used entries go first; graphs in use
// keep working). Defaults 4096 / 32, or TORCH_FUSER_MAX_FUSIONS /
// TORCH_FUSER_MAX_KERNELS_PER_FUSION; a value <= 0 leaves that bound unchanged.
void setCacheLimits(int64_t max_fusions, int64_t max_kernels_per_fusion);

}  // namespace torch_fuser
