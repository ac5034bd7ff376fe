// Background compilation on CPU: calls run the fallback while a kernel compiles, and the
// kernel once it is ready. The compiler is held at a gate (a wrapper script waiting for a
// file), so what a call sees while it compiles does not depend on timing.
#include "test/cpp/jit/test_utils.h"

#include "torch/csrc/jit/codegen/fuser/options.h"

#include <fstream>

#include <sys/stat.h>

namespace torch_fuser {
namespace testing {
namespace {

// The compiler kernels are built with now: $CXX, else c++.
std::string currentCompiler() {
  const char* cxx = std::getenv("CXX");
  return cxx && *cxx ? cxx : "c++";
}

// $CXX for the test: the current compiler behind a gate that opens when open() is called.
class GatedCompiler {
 public:
  GatedCompiler() {
    char pattern[] = "/tmp/torch_fuser_gate_XXXXXX";
    dir_ = ::mkdtemp(pattern);
    const std::string script = dir_ + "/c++";
    // Held for at most 30 s: a library that compiled in the caller's thread fails the
    // test (its call ran a kernel) instead of hanging it.
    std::ofstream(script) << "#!/bin/sh\necho \"$@\" >> '" << dir_ << "/args'\ni=0\nwhile [ ! -e '"
                          << dir_
                          << "/open' ] && [ $i -lt 3000 ]; do sleep 0.01; i=$((i+1)); done\nexec "
                          << currentCompiler() << " \"$@\"\n";
    ::chmod(script.c_str(), 0700);
    cxx_ = std::make_unique<EnvGuard>("CXX", script.c_str());
  }
  ~GatedCompiler() {
    open();
    waitForCompilations();
    cxx_.reset();
    removeDirectory(dir_);
  }
  void open() { std::ofstream(dir_ + "/open") << ""; }
  // The arguments of every run so far, a line each.
  std::string arguments() const {
    std::ifstream in(dir_ + "/args");
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

 private:
  std::string dir_;
  std::unique_ptr<EnvGuard> cxx_;
};

class BackgroundCompilation {
 public:
  BackgroundCompilation() : was_(isBackgroundCompilation()) { setBackgroundCompilation(true); }
  ~BackgroundCompilation() {
    waitForCompilations();
    setBackgroundCompilation(was_);
  }

 private:
  const bool was_;
};

TEST(CPUFusion, RunsTheFallbackWhileTheKernelCompilesInTheBackground) {
  FusionGuard fusion;
  TempCacheDir cache;
  BackgroundCompilation background;
  GatedCompiler compiler;
  auto graph = parseIR(kChainIR);
  fuseGraph(graph);
  ASSERT_EQ(countGroups(*graph), 1u);
  const auto inputs = chainInputs({7, 7}, at::TensorOptions().dtype(at::kDouble));
  const at::Tensor expected = runGraph(parseIR(kChainIR), inputs)[0].toTensor();
  const Stats before = getStats();

  for (int call = 1; call <= 2; ++call) {  // the compiler is held: both fall back
    expectSameTensor(runGraph(graph, inputs)[0].toTensor(), expected);
    const Stats now = getStats();
    EXPECT_EQ(now.fallbacks, before.fallbacks + call);
    EXPECT_EQ(now.kernel_launches, before.kernel_launches);
    EXPECT_EQ(now.compiles_pending, 1) << "queued once, not once per call";
    EXPECT_EQ(now.kernels_compiled, before.kernels_compiled);
  }

  compiler.open();
  waitForCompilations();
  EXPECT_EQ(getStats().compiles_pending, 0);
  EXPECT_EQ(getStats().kernels_compiled, before.kernels_compiled + 1);
  expectSameTensor(runGraph(graph, inputs)[0].toTensor(), expected);
  EXPECT_EQ(getStats().fallbacks, before.fallbacks + 2);
  EXPECT_EQ(getStats().kernel_launches, before.kernel_launches + 1);
}

// The worker compiles with the environment the call that queued the compile saw: it never
// reads the live one, which another thread may be changing (compile_environment.h).
TEST(CPUFusion, ABackgroundCompileUsesTheEnvironmentOfTheCallThatQueuedIt) {
  FusionGuard fusion;
  TempCacheDir cache;
  BackgroundCompilation background;
  GatedCompiler compiler;
  auto graph = parseIR(kChainIR);
  fuseGraph(graph);
  const auto inputs = chainInputs({3, 5}, at::TensorOptions().dtype(at::kDouble));
  const at::Tensor expected = runGraph(parseIR(kChainIR), inputs)[0].toTensor();
  const Stats before = getStats();
  {
    EnvGuard flags("TORCH_FUSER_CXXFLAGS", "-DTF_FLAG_OF_THE_QUEUING_CALL");
    expectSameTensor(runGraph(graph, inputs)[0].toTensor(), expected);
  }
  EnvGuard later("TORCH_FUSER_CXXFLAGS", "-DTF_FLAG_SET_AFTER_THE_CALL");
  EXPECT_EQ(getStats().compiles_pending, 1);
  compiler.open();
  waitForCompilations();
  const std::string arguments = compiler.arguments();
  EXPECT_NE(arguments.find("-DTF_FLAG_OF_THE_QUEUING_CALL"), std::string::npos) << arguments;
  EXPECT_EQ(arguments.find("-DTF_FLAG_SET_AFTER_THE_CALL"), std::string::npos) << arguments;
  expectSameTensor(runGraph(graph, inputs)[0].toTensor(), expected);
  EXPECT_EQ(getStats().kernel_launches, before.kernel_launches + 1);
}

TEST(CPUFusion, KernelSourceWaitsForTheBackgroundCompile) {
  FusionGuard fusion;
  TempCacheDir cache;
  BackgroundCompilation background;
  const std::vector<std::string> sources =
      debugGetFusedKernelCode(parseIR(kChainIR), chainInputs({5}, at::TensorOptions()));
  ASSERT_EQ(sources.size(), 1u);
  EXPECT_NE(sources[0].find("tf_kernel"), std::string::npos);
}

TEST(CPUFusion, AFailedBackgroundCompileFallsBackForGood) {
  FusionGuard fusion;
  TempCacheDir cache;
  BackgroundCompilation background;
  EnvGuard cxx("CXX", "false");  // exits 1 like a compiler that rejects the source
  auto graph = parseIR(kChainIR);
  fuseGraph(graph);
  const auto inputs = chainInputs({6, 2}, at::TensorOptions().dtype(at::kDouble));
  const at::Tensor expected = runGraph(parseIR(kChainIR), inputs)[0].toTensor();
  const Stats before = getStats();
  expectSameTensor(runGraph(graph, inputs)[0].toTensor(), expected);
  waitForCompilations();
  expectSameTensor(runGraph(graph, inputs)[0].toTensor(), expected);
  EXPECT_EQ(getStats().fallbacks, before.fallbacks + 2);
  EXPECT_EQ(getStats().kernel_launches, before.kernel_launches);
  EXPECT_EQ(getStats().kernels_compiled, before.kernels_compiled);
  EXPECT_EQ(getStats().compiles_pending, 0);
}

}  // namespace
}  // namespace testing
}  // namespace torch_fuser
