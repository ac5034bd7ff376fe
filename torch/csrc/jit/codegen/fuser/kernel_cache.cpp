#include "torch/csrc/jit/codegen/fuser/kernel_cache.h"

#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/canonicalize.h>
#include <torch/csrc/jit/passes/shape_analysis.h>

#include <mutex>
#include <string>
#include <unordered_map>

namespace torch_fuser {
namespace {

struct KernelCache {
  std::mutex mutex;
  std::unordered_map<std::string, int64_t> key_of_graph;  // canonical text -> key
  std::vector<std::shared_ptr<KernelSpec>> specs;         // indexed by key
};

KernelCache& cache() {
  static KernelCache* instance = new KernelCache();  // outlives static destructors
  return *instance;
}

}  // namespace

std::shared_ptr<torch::jit::Graph> normalizeGraph(torch::jit::Graph& subgraph) {
  std::shared_ptr<torch::jit::Graph> copy = subgraph.copy();
  torch::jit::EraseShapeInformation(copy);
  return torch::jit::Canonicalize(copy, /*keep_unique_names=*/false);
}

int64_t storeFusion(const std::shared_ptr<torch::jit::Graph>& normalized) {
  const std::string text = normalized->toString(/*print_source_locations=*/false);
  KernelCache& c = cache();
  std::lock_guard<std::mutex> guard(c.mutex);
  auto it = c.key_of_graph.find(text);
  if (it != c.key_of_graph.end()) return it->second;
  const int64_t key = static_cast<int64_t>(c.specs.size());
  c.specs.push_back(std::make_shared<KernelSpec>(key, normalized));
  c.key_of_graph.emplace(text, key);
  return key;
}

std::shared_ptr<KernelSpec> retrieveFusion(int64_t key) {
  KernelCache& c = cache();
  std::lock_guard<std::mutex> guard(c.mutex);
  TORCH_CHECK(key >= 0 && key < static_cast<int64_t>(c.specs.size()),
              "torch_fuser: no fusion is registered under key ", key, " (", c.specs.size(),
              " are)");
  return c.specs[key];
}

std::shared_ptr<KernelSpec> lookupFusion(const torch::jit::Graph& normalized) {
  const std::string text = normalized.toString(/*print_source_locations=*/false);
  KernelCache& c = cache();
  std::lock_guard<std::mutex> guard(c.mutex);
  auto it = c.key_of_graph.find(text);
  return it == c.key_of_graph.end() ? nullptr : c.specs[it->second];
}

void clearCompiledKernels() {
  std::vector<std::shared_ptr<KernelSpec>> specs;
  {
    std::lock_guard<std::mutex> guard(cache().mutex);
    specs = cache().specs;
  }
  for (const auto& spec : specs) spec->clearKernels();
}

}  // namespace torch_fuser
