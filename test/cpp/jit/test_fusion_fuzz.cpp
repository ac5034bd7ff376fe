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

// Runs one case; returns "" or what went wrong. Sets `ran_kernel` when the fused graph
// ran as a compiled kernel (not the interpreter fallback).
std::string runCase(const RandomCase& c, bool& ran_kernel) {
  auto reference = parseIR(c.ir);
  auto fused = reference->copy();
  fuseGraph(fused);
  if (countGroups(*fused) != 1)
    return "expected one fusion group, got " + std::to_string(countGroups(*fused));

  std::vector<IValue> expected;
  std::string eager_error;
  try {
    expected = runGraph(reference, c.inputs);
  } catch (const std::exception& e) {
    eager_error = e.what();
  }
  std::vector<IValue> actual;
  const int64_t fallbacks = getStats().fallbacks;
  try {
    actual = runGraph(fused, c.inputs);
    ran_kernel = getStats().fallbacks == fallbacks;
  } catch (const std::exception& e) {
    if (!eager_error.empty()) return "";  // both raise
    return std::string("fused raised but eager did not: ") + e.what();
  }
  if (!eager_error.empty()) return "eager raised but fused did not: " + eager_error;
  if (actual.size() != expected.size()) return "output count differs";
  for (size_t i = 0; i < actual.size(); ++i) {
    const std::string diff =
        compareOutputs(actual[i].toTensor(), expected[i].toTensor(), caseTolerance(c));
    if (!diff.empty()) return "output " + std::to_string(i) + ": " + diff;
  }
  return "";
}

TEST(CPUFusion, RandomGraphsMatchEager) {
  FusionGuard fusion;
  const int64_t cases = envInt("FUSER_FUZZ_CASES", kDefaultCases);
  const uint64_t first_seed = static_cast<uint64_t>(envInt("FUSER_FUZZ_SEED", 1));
  int64_t failures = 0, kernel_cases = 0;
  for (int64_t i = 0; i < cases; ++i) {
    const RandomCase c = makeRandomCase(first_seed + static_cast<uint64_t>(i));
    bool ran_kernel = false;
    const std::string problem = runCase(c, ran_kernel);
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
