// Process-wide switches and counters of torch_fuser, in one place.
//
// The environment is read once (PYTORCH_FUSION_DEBUG) and cached; the device switches
// are atomics so the graph pass and the executor may read them from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace torch_fuser {

// TORCH_FUSER_ENABLE: "1" enables fusion when the library loads (for programs whose code
// cannot change), "0" keeps it off even where `import torch_fuser` would enable it; unset
// (or anything else, with a warning) leaves the choice to the program.
enum class EnableRequest { kUnset, kOn, kOff };
EnableRequest enableRequestFromEnvironment();

// TORCH_FUSER_STATS_AT_EXIT=1: print the counters to stderr when the process exits.
bool statsAtExitRequested();

// TORCH_FUSER_BATCH_MM=0: leave the matmuls of profiled graphs unbatched (matmul_batching.h).
// Read on each run of the pass.
bool batchMatmulsRequested();

// TORCH_FUSER_CUDA_GRAPHS=0: no fuser::CapturedGraph nodes (capture_region.h). Read on each
// run of the pass.
bool graphCaptureRequested();

// PYTORCH_FUSION_DEBUG: 0 quiet, 1 print generated sources, 2 also compile commands,
// timings, and keep intermediate files.
int debugLevel();

struct DeviceSwitches {
  std::atomic<bool> enabled{false};
  std::atomic<bool> cpu{true};
  std::atomic<bool> cuda{true};
  // The smallest group kept per device: set_min_group_size(), else
  // TORCH_FUSER_MIN_GROUP_SIZE (every device), else the measured defaults (README).
  std::atomic<int> min_group_size_cpu{2};
  std::atomic<int> min_group_size_cuda{2};
};
DeviceSwitches& deviceSwitches();

// Counters behind torch_fuser.stats(). Monotonic; never reset by clear_cache().
struct FuserStats {
  std::atomic<int64_t> kernels_compiled{0};
  std::atomic<int64_t> disk_cache_hits{0};
  std::atomic<int64_t> fallbacks{0};
  std::atomic<int64_t> compile_nanoseconds{0};
  std::atomic<int64_t> fusion_groups_registered{0};
  std::atomic<int64_t> graphs_captured{0};  // CUDA graphs (captured_graph.h)
  std::atomic<int64_t> graph_replays{0};
};
FuserStats& stats();

// The counters every launch bumps, kept per thread (one process-wide atomic would move
// between cores on each launch of each thread) and summed when read.
void countKernelLaunch();
void countMemoryCacheHit();
int64_t totalKernelLaunches();
int64_t totalMemoryCacheHits();

// Bounds of the in-memory caches, so a long-running process that meets many graphs does
// not grow without limit: fusions (KernelSpecs) in the registry, and compiled kernels
// (ArgSpecs) per fusion; least recently used entries go first. Initialized from
// TORCH_FUSER_MAX_FUSIONS / TORCH_FUSER_MAX_KERNELS_PER_FUSION, settable at run time.
struct CacheLimits {
  std::atomic<int64_t> max_fusions;
  std::atomic<int64_t> max_kernels_per_fusion;
  std::atomic<int64_t> evicted_fusions{0};
  std::atomic<int64_t> evicted_kernels{0};
};
CacheLimits& cacheLimits();

// Fallbacks taken by calls made on the calling thread (a per-thread twin of
// stats().fallbacks, so concurrent callers can each tell whether their call ran a kernel).
int64_t threadFallbacks();
void countFallback();

// Whether kernels compile on background threads while calls run the fusion's fallback
// (background_compiler.h): on unless TORCH_FUSER_SYNC_COMPILE=1 (what tests set, for
// determinism); setBackgroundCompilation() changes it at run time.
std::atomic<bool>& backgroundCompilation();

// While one exists on a thread, that thread's calls wait for their kernels to compile
// (kernel_source, explain: they report the kernels the calls run).
class WaitForCompiles {
 public:
  WaitForCompiles();
  ~WaitForCompiles();
  WaitForCompiles(const WaitForCompiles&) = delete;
  WaitForCompiles& operator=(const WaitForCompiles&) = delete;
};
// Whether a call on this thread compiles (or waits for) its kernel before running it.
bool compilesBlockCalls();

}  // namespace torch_fuser
