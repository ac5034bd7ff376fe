// Helpers shared by the fusion tests: parse IR, fuse, run in the interpreter, compare.
#pragma once

#include "torch/csrc/jit/codegen/fuser/graph_fuser.h"
#include "torch/csrc/jit/codegen/fuser/interface.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/ir/irparser.h>
#include <torch/csrc/jit/runtime/interpreter.h>
#include <torch/csrc/jit/testing/file_check.h>

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace torch_fuser {
namespace testing {

using torch::jit::Graph;
using torch::jit::IValue;

// sigmoid(x * y + z).tanh() * 0.5 + x.relu(): the chain most tests fuse.
constexpr const char* kChainIR = R"IR(
graph(%x : Tensor, %y : Tensor, %z : Tensor):
  %one : int = prim::Constant[value=1]()
  %half : float = prim::Constant[value=0.5]()
  %a : Tensor = aten::mul(%x, %y)
  %b : Tensor = aten::add(%a, %z, %one)
  %c : Tensor = aten::sigmoid(%b)
  %d : Tensor = aten::tanh(%c)
  %e : Tensor = aten::mul(%d, %half)
  %r : Tensor = aten::relu(%x)
  %f : Tensor = aten::add(%e, %r, %one)
  return (%f)
)IR";

inline std::shared_ptr<Graph> parseIR(const std::string& ir) {
  auto graph = std::make_shared<Graph>();
  torch::jit::parseIR(ir, graph.get());
  return graph;
}

// Enables torch_fuser (CPU and CUDA) for one test, restoring the previous state after.
class FusionGuard {
 public:
  FusionGuard() : was_enabled_(isEnabled()) { enable(true, true); }
  ~FusionGuard() {
    if (!was_enabled_) disable();
  }

 private:
  bool was_enabled_;
};

// Sets an environment variable for one scope.
class EnvGuard {
 public:
  EnvGuard(const char* name, const char* value) : name_(name) {
    const char* old = std::getenv(name);
    had_ = old != nullptr;
    if (had_) old_ = old;
    ::setenv(name, value, 1);
  }
  ~EnvGuard() {
    if (had_) {
      ::setenv(name_.c_str(), old_.c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }

 private:
  std::string name_;
  std::string old_;
  bool had_ = false;
};

// Files in `dir` (not recursive). POSIX rather than std::filesystem: some libtorch
// builds export their own std::filesystem symbols, which then interpose ours.
inline std::vector<std::string> listFiles(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* handle = ::opendir(dir.c_str())) {
    while (const dirent* entry = ::readdir(handle)) {
      const std::string name = entry->d_name;
      if (name != "." && name != "..") out.push_back(dir + "/" + name);
    }
    ::closedir(handle);
  }
  return out;
}

// Removes `dir` and the files in it.
inline void removeDirectory(const std::string& dir) {
  for (const std::string& file : listFiles(dir)) ::unlink(file.c_str());
  ::rmdir(dir.c_str());
}

inline std::vector<IValue> runGraph(const std::shared_ptr<Graph>& graph,
                                    const std::vector<IValue>& inputs) {
  torch::jit::Code code(graph, "test");
  torch::jit::Stack stack(inputs.begin(), inputs.end());
  torch::jit::InterpreterState(code).run(stack);
  return stack;
}

inline size_t countKind(const Graph& graph, const char* qualified_kind) {
  const c10::Symbol kind = c10::Symbol::fromQualString(qualified_kind);
  size_t n = 0;
  std::vector<const torch::jit::Block*> blocks{graph.block()};
  while (!blocks.empty()) {
    const torch::jit::Block* block = blocks.back();
    blocks.pop_back();
    for (const torch::jit::Node* node : block->nodes()) {
      if (node->kind() == kind) ++n;
      for (const torch::jit::Block* sub : node->blocks()) blocks.push_back(sub);
    }
  }
  return n;
}

inline size_t countGroups(const Graph& graph) {
  return countKind(graph, "fuser::FusionGroup");
}

// The first FusionGroup's subgraph.
inline std::shared_ptr<Graph> firstGroupSubgraph(const Graph& graph) {
  for (const torch::jit::Node* node : graph.nodes()) {
    if (node->kind() == fusionGroupKind()) return node->g(c10::attr::Subgraph);
  }
  return nullptr;
}

// Equal dtype, shape and values; NaN equals NaN; floats within tolerance.
inline void expectSameTensor(const at::Tensor& actual, const at::Tensor& expected,
                             double rtol = 1e-5, double atol = 1e-6) {
  ASSERT_EQ(actual.scalar_type(), expected.scalar_type());
  ASSERT_EQ(actual.sizes(), expected.sizes());
  if (actual.numel() == 0) return;
  if (!at::isFloatingType(actual.scalar_type())) {
    EXPECT_TRUE(at::equal(actual, expected)) << "actual:\n"
                                             << actual << "\nexpected:\n"
                                             << expected;
    return;
  }
  const at::Tensor a = actual.to(at::kDouble), e = expected.to(at::kDouble);
  const at::Tensor both_nan = a.isnan().logical_and(e.isnan());
  const at::Tensor close =
      (a - e).abs().le(atol + rtol * e.abs()).logical_or(a.eq(e)).logical_or(both_nan);
  EXPECT_TRUE(close.all().item<bool>())
      << "max abs diff " << (a - e).abs().nan_to_num(0).max().item<double>() << "\nactual:\n"
      << actual << "\nexpected:\n"
      << expected;
}

enum class Expect { kKernel, kFallback };

// Runs `ir` unfused (the reference: eager ops in the interpreter) and fused, compares all
// outputs, checks that a compiled kernel ran (or that the call fell back, as expected),
// and returns the fused graph for IR checks.
inline std::shared_ptr<Graph> checkFusedMatchesEager(const std::string& ir,
                                                     const std::vector<IValue>& inputs,
                                                     Expect expect = Expect::kKernel) {
  auto reference_graph = parseIR(ir);
  auto fused_graph = reference_graph->copy();
  fuseGraph(fused_graph);
  const std::vector<IValue> expected = runGraph(reference_graph, inputs);
  const int64_t fallbacks = getStats().fallbacks;
  const std::vector<IValue> actual = runGraph(fused_graph, inputs);
  if (expect == Expect::kKernel) {
    EXPECT_EQ(getStats().fallbacks, fallbacks) << "a fusion fell back instead of running a kernel";
  } else {
    EXPECT_GT(getStats().fallbacks, fallbacks) << "expected a fallback";
  }
  EXPECT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < std::min(actual.size(), expected.size()); ++i) {
    expectSameTensor(actual[i].toTensor(), expected[i].toTensor());
  }
  return fused_graph;
}

}  // namespace testing
}  // namespace torch_fuser
