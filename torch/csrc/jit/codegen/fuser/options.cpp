#include "torch/csrc/jit/codegen/fuser/options.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

namespace torch_fuser {

int debugLevel() {
  static const int level = [] {
    const char* env = std::getenv("PYTORCH_FUSION_DEBUG");
    return env ? std::atoi(env) : 0;
  }();
  return level;
}

EnableRequest enableRequestFromEnvironment() {
  const char* env = std::getenv("TORCH_FUSER_ENABLE");
  if (!env || !*env) return EnableRequest::kUnset;
  if (std::strcmp(env, "1") == 0) return EnableRequest::kOn;
  if (std::strcmp(env, "0") == 0) return EnableRequest::kOff;
  TORCH_WARN("torch_fuser: TORCH_FUSER_ENABLE must be 1 or 0, found '", env, "'; ignored");
  return EnableRequest::kUnset;
}

bool statsAtExitRequested() {
  const char* env = std::getenv("TORCH_FUSER_STATS_AT_EXIT");
  return env && std::strcmp(env, "1") == 0;
}

namespace {

// A switch that is on unless `name` is "0"; any other value but "1" is warned about.
bool onUnlessZero(const char* name, const char* what) {
  const char* env = std::getenv(name);
  if (!env || !*env || std::strcmp(env, "1") == 0) return true;
  if (std::strcmp(env, "0") == 0) return false;
  TORCH_WARN("torch_fuser: ", name, " must be 1 or 0, found '", env, "'; ", what);
  return true;
}

}  // namespace

bool batchMatmulsRequested() {
  return onUnlessZero("TORCH_FUSER_BATCH_MM", "batching matmuls");
}

bool graphCaptureRequested() {
  return onUnlessZero("TORCH_FUSER_CUDA_GRAPHS", "capturing CUDA graphs");
}

namespace {

int64_t positiveFromEnv(const char* name, int64_t fallback) {
  const char* value = std::getenv(name);
  if (!value || !*value) return fallback;
  char* end = nullptr;
  const long long parsed = std::strtoll(value, &end, 10);
  TORCH_CHECK(end && *end == '\0' && parsed > 0, "torch_fuser: ", name,
              " must be a positive integer, found '", value, "'");
  return parsed;
}

// Read while the library loads, where an exception would end the process: a bad value
// is warned about and ignored.
int minGroupSizeFromEnv(int fallback) {
  try {
    const int64_t size = positiveFromEnv("TORCH_FUSER_MIN_GROUP_SIZE", fallback);
    TORCH_CHECK(size <= (1 << 20), "torch_fuser: TORCH_FUSER_MIN_GROUP_SIZE must be at most 2^20");
    return static_cast<int>(size);
  } catch (const c10::Error& e) {
    TORCH_WARN(e.what_without_backtrace(), "; using ", fallback);
    return fallback;
  }
}

}  // namespace

DeviceSwitches& deviceSwitches() {
  static DeviceSwitches* switches = [] {
    auto* s = new DeviceSwitches();
    s->min_group_size_cpu = minGroupSizeFromEnv(s->min_group_size_cpu);
    s->min_group_size_cuda = minGroupSizeFromEnv(s->min_group_size_cuda);
    return s;
  }();
  return *switches;
}

FuserStats& stats() {
  static FuserStats counters;
  return counters;
}

CacheLimits& cacheLimits() {
  static CacheLimits* limits = [] {
    auto* l = new CacheLimits();
    l->max_fusions = positiveFromEnv("TORCH_FUSER_MAX_FUSIONS", 4096);
    l->max_kernels_per_fusion = positiveFromEnv("TORCH_FUSER_MAX_KERNELS_PER_FUSION", 32);
    return l;
  }();
  return *limits;
}

namespace {
thread_local int64_t fallbacks_on_this_thread = 0;

// One thread's launch-path counters. Only the owning thread writes them (a relaxed load
// and store, no locked instruction); readers sum every live thread's and the retired.
struct ThreadCounters {
  std::atomic<int64_t> launches{0};
  std::atomic<int64_t> hits{0};
};

struct CounterRegistry {
  std::mutex mutex;
  std::vector<const ThreadCounters*> live;
  int64_t retired_launches = 0;
  int64_t retired_hits = 0;
};

// Leaked: threads may exit (and retire their counters) after static destruction began.
CounterRegistry& counterRegistry() {
  static auto* registry = new CounterRegistry();
  return *registry;
}

struct RegisteredCounters {
  ThreadCounters counters;
  RegisteredCounters() {
    CounterRegistry& r = counterRegistry();
    std::lock_guard<std::mutex> guard(r.mutex);
    r.live.push_back(&counters);
  }
  ~RegisteredCounters() {
    CounterRegistry& r = counterRegistry();
    std::lock_guard<std::mutex> guard(r.mutex);
    r.retired_launches += counters.launches.load(std::memory_order_relaxed);
    r.retired_hits += counters.hits.load(std::memory_order_relaxed);
    r.live.erase(std::find(r.live.begin(), r.live.end(), &counters));
  }
};

thread_local RegisteredCounters this_thread_counters;

void bump(std::atomic<int64_t>& counter) {
  counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

template <typename Field>
int64_t sumCounters(Field field, int64_t CounterRegistry::*retired) {
  CounterRegistry& r = counterRegistry();
  std::lock_guard<std::mutex> guard(r.mutex);
  int64_t total = r.*retired;
  for (const ThreadCounters* c : r.live) total += (c->*field).load(std::memory_order_relaxed);
  return total;
}
}  // namespace

void countKernelLaunch() {
  bump(this_thread_counters.counters.launches);
}

void countMemoryCacheHit() {
  bump(this_thread_counters.counters.hits);
}

int64_t totalKernelLaunches() {
  return sumCounters(&ThreadCounters::launches, &CounterRegistry::retired_launches);
}

int64_t totalMemoryCacheHits() {
  return sumCounters(&ThreadCounters::hits, &CounterRegistry::retired_hits);
}

std::atomic<bool>& backgroundCompilation() {
  static std::atomic<bool> on{[] {
    const char* env = std::getenv("TORCH_FUSER_SYNC_COMPILE");
    if (!env || !*env || std::strcmp(env, "0") == 0) return true;
    if (std::strcmp(env, "1") != 0) {
      TORCH_WARN("torch_fuser: TORCH_FUSER_SYNC_COMPILE must be 1 or 0, found '", env,
                 "'; compiling in the background");
      return true;
    }
    return false;
  }()};
  return on;
}

namespace {
thread_local int waits_for_compiles = 0;
}  // namespace

WaitForCompiles::WaitForCompiles() {
  ++waits_for_compiles;
}

WaitForCompiles::~WaitForCompiles() {
  --waits_for_compiles;
}

bool compilesBlockCalls() {
  return waits_for_compiles > 0 || !backgroundCompilation().load(std::memory_order_relaxed);
}

int64_t threadFallbacks() {
  return fallbacks_on_this_thread;
}

void countFallback() {
  stats().fallbacks++;
  ++fallbacks_on_this_thread;
}

}  // namespace torch_fuser
