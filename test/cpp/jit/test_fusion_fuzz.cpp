// Differential fuzzing: random fusible graphs, fused vs eager, on many shapes, strides
// and dtypes. FUSER_FUZZ_CASES sets the count (default below), FUSER_FUZZ_SEED the first
// seed, FUSER_FUZZ_THREADS the workers (default: the cores, at most 4), FUSER_FUZZ_SECONDS
// a time budget (no case starts after it; the run reports how many ran, always the seeds
// from the first on), FUSER_FUZZ_PRINT=1 prints every case (graph and inputs) before it
// runs; a failure prints
// the seed, the graph and the inputs, so it can be replayed with
// FUSER_FUZZ_SEED=<seed> FUSER_FUZZ_CASES=1.
#include "test/cpp/jit/random_graphs.h"
#include "test/cpp/jit/test_utils.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

namespace torch_fuser {
namespace testing {
namespace {

constexpr int64_t kDefaultCases = 2000;

int64_t envInt(const char* name, int64_t fallback) {
  const char* value = std::getenv(name);
  return value ? std::atoll(value) : fallback;
}

struct FuzzRun {
  int64_t cases = 0;  // seeds [first, first + cases) ran
  int64_t kernel_cases = 0;
  std::map<uint64_t, std::string> problems;  // by seed
};

// Runs cases [first, first + count) on `threads` threads (compiling dominates, and the
// library is thread-safe) until `seconds` (<= 0: no limit) have passed.
FuzzRun runCases(uint64_t first, int64_t count, int threads, const c10::Device& device,
                 double seconds) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            std::chrono::duration<double>(seconds > 0 ? seconds : 1e9));
  int64_t next = 0;  // guarded by `mutex`: the seeds taken stay one unbroken range
  std::atomic<int64_t> kernels{0};
  std::mutex mutex;
  std::map<uint64_t, std::string> problems;
  auto take = [&]() -> int64_t {
    std::lock_guard<std::mutex> guard(mutex);
    if (next >= count || std::chrono::steady_clock::now() >= deadline) return -1;
    return next++;
  };
  auto worker = [&] {
    for (int64_t i = take(); i >= 0; i = take()) {
      const RandomCase c = makeRandomCase(first + static_cast<uint64_t>(i), device);
      if (std::getenv("FUSER_FUZZ_PRINT")) {
        std::lock_guard<std::mutex> guard(mutex);
        std::cout << c.describe() << "\n";
      }
      bool ran_kernel = false;
      const std::string problem = runRandomCase(c, ran_kernel);
      kernels += ran_kernel ? 1 : 0;
      if (problem.empty()) continue;
      std::lock_guard<std::mutex> guard(mutex);
      problems[c.seed] = problem + "\nreplay: FUSER_FUZZ_SEED=" + std::to_string(c.seed) +
                         " FUSER_FUZZ_CASES=1\n" + c.describe();
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(worker);
  for (std::thread& t : pool) t.join();
  return FuzzRun{next, kernels.load(), std::move(problems)};
}

}  // namespace

void fuzzAgainstEager(const c10::Device& device, int64_t default_cases) {
  FusionGuard fusion;
  const int64_t cases = envInt("FUSER_FUZZ_CASES", default_cases);
  const uint64_t first_seed = static_cast<uint64_t>(envInt("FUSER_FUZZ_SEED", 1));
  const int threads = static_cast<int>(std::max<int64_t>(
      1, envInt("FUSER_FUZZ_THREADS",
                std::min(4u, std::max(1u, std::thread::hardware_concurrency())))));
  const double seconds = static_cast<double>(envInt("FUSER_FUZZ_SECONDS", 0));
  const FuzzRun run = runCases(first_seed, cases, threads, device, seconds);
  const auto& problems = run.problems;
  // The first five in full; the seeds of the others, so none is lost.
  int reported = 0;
  std::string more;
  for (const auto& problem : problems) {
    if (reported++ < 5) {
      ADD_FAILURE() << problem.second;
    } else {
      more += " " + std::to_string(problem.first);
    }
  }
  if (!more.empty()) ADD_FAILURE() << "also failed, seeds:" << more;
  EXPECT_EQ(problems.size(), 0u);
  // Most cases must exercise compiled kernels, not only the fallback.
  std::cout << "[fuzz] " << device << ": " << run.cases << " cases from seed " << first_seed
            << " (seeds " << first_seed << ".." << first_seed + run.cases - 1 << ") on " << threads
            << " threads, " << run.kernel_cases << " ran compiled kernels, " << problems.size()
            << " failed" << (run.cases < cases ? " (stopped at FUSER_FUZZ_SECONDS)" : "") << "\n";
  if (run.cases >= 100) {  // not for a replay of a few
    EXPECT_GE(run.kernel_cases * 2, run.cases);
  }
}

namespace {

TEST(CPUFusion, RandomGraphsMatchEager) {
  fuzzAgainstEager(c10::kCPU, kDefaultCases);
}

}  // namespace
}  // namespace testing
}  // namespace torch_fuser
