// Differential fuzzing: random fusible graphs, fused vs eager, on many shapes, strides
// and dtypes. FUSER_FUZZ_CASES sets the count (default below), FUSER_FUZZ_SEED the first
// seed; a failure prints the seed, the graph and the inputs, so it can be replayed with
// FUSER_FUZZ_SEED=<seed> FUSER_FUZZ_CASES=1.
#include "test/cpp/jit/random_graphs.h"
#include "test/cpp/jit/test_utils.h"

#include <cstdlib>
#include <iostream>

namespace torch_fuser {
namespace testing {
namespace {

constexpr int64_t kDefaultCases = 200;

int64_t envInt(const char* name, int64_t fallback) {
  const char* value = std::getenv(name);
  return value ? std::atoll(value) : fallback;
}

TEST(CPUFusion, RandomGraphsMatchEager) {
  FusionGuard fusion;
  const int64_t cases = envInt("FUSER_FUZZ_CASES", kDefaultCases);
  const uint64_t first_seed = static_cast<uint64_t>(envInt("FUSER_FUZZ_SEED", 1));
  int64_t failures = 0, kernel_cases = 0;
  for (int64_t i = 0; i < cases; ++i) {
    const RandomCase c = makeRandomCase(first_seed + static_cast<uint64_t>(i));
    bool ran_kernel = false;
    const std::string problem = runRandomCase(c, ran_kernel);
    kernel_cases += ran_kernel ? 1 : 0;
    if (problem.empty()) continue;
    ADD_FAILURE() << problem << "\nreplay: FUSER_FUZZ_SEED=" << c.seed << " FUSER_FUZZ_CASES=1\n"
                  << c.describe();
    if (++failures >= 5) break;
  }
  EXPECT_EQ(failures, 0);
  // The generator favours float inputs: most cases must exercise compiled kernels, not
  // only the fallback.
  std::cout << "[fuzz] " << cases << " cases, " << kernel_cases << " ran compiled kernels\n";
  EXPECT_GE(kernel_cases * 2, cases);
}

}  // namespace
}  // namespace testing
}  // namespace torch_fuser
