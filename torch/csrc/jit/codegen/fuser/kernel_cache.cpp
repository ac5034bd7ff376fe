#include "torch/csrc/jit/codegen/fuser/kernel_cache.h"

#include "torch/csrc/jit/codegen/fuser/options.h"

#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/canonicalize.h>
#include <torch/csrc/jit/passes/shape_analysis.h>

#include <algorithm>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

namespace torch_fuser {
namespace {

// Fusions by canonical graph text, least recently used evicted past
// cacheLimits().max_fusions. Eviction drops only the cache's reference: a FusionGroup
// operation holds its KernelSpec, so graphs in use keep running.
struct KernelCache {
  struct Entry {
    std::shared_ptr<KernelSpec> spec;
    std::string text;
    std::list<int64_t>::iterator recency;
  };
  std::mutex mutex;
  std::unordered_map<std::string, int64_t> key_of_graph;  // canonical text -> key
  std::unordered_map<int64_t, Entry> entries;
  std::list<int64_t> recency;  // most recently used first
  int64_t next_key = 0;

  // Callers hold `mutex`.
  const std::shared_ptr<KernelSpec>& touch(Entry& entry) {
    recency.splice(recency.begin(), recency, entry.recency);
    return entry.spec;
  }
  void evictBeyond(int64_t limit) {
    while (static_cast<int64_t>(entries.size()) > limit) {
      const int64_t oldest = recency.back();
      recency.pop_back();
      auto it = entries.find(oldest);
      key_of_graph.erase(it->second.text);
      entries.erase(it);
      cacheLimits().evicted_fusions++;
    }
  }
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
  std::string text = normalized->toString(/*print_source_locations=*/false);
  KernelCache& c = cache();
  std::lock_guard<std::mutex> guard(c.mutex);
  auto it = c.key_of_graph.find(text);
  if (it != c.key_of_graph.end()) {
    c.touch(c.entries.at(it->second));
    return it->second;
  }
  const int64_t key = c.next_key++;
  c.recency.push_front(key);
  c.key_of_graph.emplace(text, key);
  c.entries.emplace(key, KernelCache::Entry{std::make_shared<KernelSpec>(key, normalized),
                                            std::move(text), c.recency.begin()});
  // The new entry is the most recent: it survives even a limit of 1.
  c.evictBeyond(std::max<int64_t>(1, cacheLimits().max_fusions.load()));
  return key;
}

std::shared_ptr<KernelSpec> retrieveFusion(int64_t key) {
  KernelCache& c = cache();
  std::lock_guard<std::mutex> guard(c.mutex);
  auto it = c.entries.find(key);
  TORCH_CHECK(it != c.entries.end(), "torch_fuser: no fusion is registered under key ", key,
              ": never registered, or evicted (", c.entries.size(), " cached, limit ",
              cacheLimits().max_fusions.load(),
              " set by TORCH_FUSER_MAX_FUSIONS); register the FusionGroup again");
  return c.touch(it->second);
}

std::shared_ptr<KernelSpec> lookupFusion(const torch::jit::Graph& normalized) {
  const std::string text = normalized.toString(/*print_source_locations=*/false);
  KernelCache& c = cache();
  std::lock_guard<std::mutex> guard(c.mutex);
  auto it = c.key_of_graph.find(text);
  return it == c.key_of_graph.end() ? nullptr : c.entries.at(it->second).spec;
}

std::vector<std::shared_ptr<KernelSpec>> cachedFusions() {
  KernelCache& c = cache();
  std::lock_guard<std::mutex> guard(c.mutex);
  std::vector<std::shared_ptr<KernelSpec>> specs;
  for (const auto& entry : c.entries) specs.push_back(entry.second.spec);
  return specs;
}

void clearCompiledKernels() {
  for (const auto& spec : cachedFusions()) spec->clearKernels();
}

}  // namespace torch_fuser
