// Differential fuzzing: random fusible graphs, fused vs eager, on many shapes, strides
// and dtypes. FUSER_FUZZ_CASES sets the count (default below), FUSER_FUZZ_SEED the first
// seed, FUSER_FUZZ_THREADS the workers (default: the cores, at most 4), FUSER_FUZZ_PRINT=1
// prints every case (graph and inputs) before it runs; a failure prints
// the seed, the graph and the inputs, so it can be replayed with
// FUSER_FUZZ_SEED=<seed> FUSER_FUZZ_CASES=1.
#include "test/cpp/jit/random_graphs.h"
#include "test/cpp/jit/test_utils.h"

#include <algorithm>
#include <atomic>
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

// Runs cases [first, first + count) on `threads` threads (compiling dominates, and the
// library is thread-safe); returns the problems by seed, and counts kernel runs.
std::map<uint64_t, std::string> runCases(uint64_t first, int64_t count, int threads,
                                         const c10::Device& device, int64_t& kernel_cases) {
  std::atomic<int64_t> next{0}, kernels{0};
  std::mutex mutex;
  std::map<uint64_t, std::string> problems;
  auto worker = [&] {
    for (int64_t i = next++; i < count; i = next++) {
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
  kernel_cases = kernels;
  return problems;
}

}  // namespace

void fuzzAgainstEager(const c10::Device& device, int64_t default_cases) {
  FusionGuard fusion;
  const int64_t cases = envInt("FUSER_FUZZ_CASES", default_cases);
  const uint64_t first_seed = static_cast<uint64_t>(envInt("FUSER_FUZZ_SEED", 1));
  const int threads = static_cast<int>(std::max<int64_t>(
      1, envInt("FUSER_FUZZ_THREADS",
                std::min(4u, std::max(1u, std::thread::hardware_concurrency())))));
  int64_t kernel_cases = 0;
  const auto problems = runCases(first_seed, cases, threads, device, kernel_cases);
  int reported = 0;
  for (const auto& problem : problems) {
    ADD_FAILURE() << problem.second;
    if (++reported == 5) break;
  }
  EXPECT_EQ(problems.size(), 0u);
  // Most cases must exercise compiled kernels, not only the fallback.
  std::cout << "[fuzz] " << device << ": " << cases << " cases from seed " << first_seed << " on "
            << threads << " threads, " << kernel_cases << " ran compiled kernels, "
            << problems.size() << " failed\n";
  if (cases >= 100) {  // not for a replay of a few
    EXPECT_GE(kernel_cases * 2, cases);
  }
}

namespace {

TEST(CPUFusion, RandomGraphsMatchEager) {
  fuzzAgainstEager(c10::kCPU, kDefaultCases);
}

}  // namespace
}  // namespace testing
}  // namespace torch_fuser
