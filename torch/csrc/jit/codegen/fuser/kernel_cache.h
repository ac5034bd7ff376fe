// The process-wide, thread-safe cache from normalized fusion subgraphs to KernelSpecs.
// Equal subgraphs (after normalization) share one KernelSpec and so its compiled kernels.
// Bounded: past cacheLimits().max_fusions the least recently used fusion is dropped from
// the cache (see options.h); whoever holds its KernelSpec keeps using it.
#pragma once

#include "torch/csrc/jit/codegen/fuser/kernel_spec.h"

#include <memory>
#include <vector>

namespace torch_fuser {

// A copy of `subgraph` with shape information erased and values renamed canonically.
std::shared_ptr<torch::jit::Graph> normalizeGraph(torch::jit::Graph& subgraph);

// Returns the key of the KernelSpec for `normalized`, creating it on first sight.
int64_t storeFusion(const std::shared_ptr<torch::jit::Graph>& normalized);
// The KernelSpec of a key returned by storeFusion; throws for an unknown or evicted key.
std::shared_ptr<KernelSpec> retrieveFusion(int64_t key);
// The KernelSpec of `normalized` if it was stored, else null.
std::shared_ptr<KernelSpec> lookupFusion(const torch::jit::Graph& normalized);

// Every KernelSpec the cache holds now.
std::vector<std::shared_ptr<KernelSpec>> cachedFusions();
// Drops every compiled kernel; registrations stay valid and recompile on next use.
void clearCompiledKernels();

}  // namespace torch_fuser
