// Helpers shared by the fusion tests: parse IR, fuse, run in the interpreter, compare.
#pragma once

#include "torch/csrc/jit/codegen/fuser/graph_fuser.h"
#include "torch/csrc/jit/codegen/fuser/interface.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/ir/irparser.h>
#include <torch/csrc/jit/passes/utils/subgraph_utils.h>
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

// Every op of the table (op_table.cpp), each result a graph output.
constexpr const char* kAllOpsIR = R"IR(
graph(%x : Tensor, %y : Tensor, %c : Tensor, %s : float, %k : int):
  %two : int = prim::Constant[value=2]()
  %half : float = prim::Constant[value=0.5]()
  %none : NoneType = prim::Constant()
  %o0 : Tensor = aten::add(%x, %y, %two)
  %o1 : Tensor = aten::add(%x, %s, %k)
  %o2 : Tensor = aten::sub(%x, %y, %s)
  %o3 : Tensor = aten::sub(%x, %half, %two)
  %o4 : Tensor = aten::rsub(%x, %y, %two)
  %o5 : Tensor = aten::rsub(%x, %s, %two)
  %o6 : Tensor = aten::mul(%x, %y)
  %o7 : Tensor = aten::mul(%x, %k)
  %o8 : Tensor = aten::div(%x, %y)
  %o9 : Tensor = aten::div(%x, %s)
  %o10 : Tensor = aten::neg(%x)
  %o11 : Tensor = aten::abs(%x)
  %o12 : Tensor = aten::relu(%x)
  %o13 : Tensor = aten::reciprocal(%x)
  %o14 : Tensor = aten::sigmoid(%x)
  %o15 : Tensor = aten::tanh(%x)
  %o16 : Tensor = aten::exp(%x)
  %o17 : Tensor = aten::log(%x)
  %o18 : Tensor = aten::sqrt(%x)
  %o19 : Tensor = aten::rsqrt(%x)
  %o20 : Tensor = aten::pow(%x, %s)
  %o21 : Tensor = aten::clamp(%x, %half, %none)
  %o22 : Tensor = aten::clamp_min(%x, %s)
  %o23 : Tensor = aten::clamp_max(%x, %half)
  %o24 : Tensor = aten::maximum(%x, %y)
  %o25 : Tensor = aten::minimum(%x, %y)
  %o26 : Tensor = aten::where(%c, %x, %y)
  %o27 : Tensor = aten::where(%c, %s, %y)
  %o28 : Tensor = aten::where(%c, %x, %half)
  %o29 : Tensor = aten::eq(%x, %y)
  %o30 : Tensor = aten::ne(%x, %s)
  %o31 : Tensor = aten::lt(%x, %y)
  %o32 : Tensor = aten::le(%x, %half)
  %o33 : Tensor = aten::gt(%x, %y)
  %o34 : Tensor = aten::ge(%x, %s)
  %o35 : Tensor = aten::exp2(%x)
  %o36 : Tensor = aten::expm1(%x)
  %o37 : Tensor = aten::log1p(%x)
  %o38 : Tensor = aten::log2(%x)
  %o39 : Tensor = aten::log10(%x)
  %o40 : Tensor = aten::sin(%x)
  %o41 : Tensor = aten::cos(%x)
  %o42 : Tensor = aten::tan(%x)
  %o43 : Tensor = aten::asin(%x)
  %o44 : Tensor = aten::acos(%x)
  %o45 : Tensor = aten::atan(%x)
  %o46 : Tensor = aten::sinh(%x)
  %o47 : Tensor = aten::cosh(%x)
  %o48 : Tensor = aten::erf(%x)
  %o49 : Tensor = aten::erfc(%x)
  %o50 : Tensor = aten::lgamma(%x)
  %o51 : Tensor = aten::ceil(%x)
  %o52 : Tensor = aten::floor(%x)
  %o53 : Tensor = aten::round(%x)
  %o54 : Tensor = aten::trunc(%x)
  %o55 : Tensor = aten::frac(%x)
  %o56 : Tensor = aten::sign(%x)
  %o57 : Tensor = aten::atan2(%x, %y)
  %o58 : Tensor = aten::fmod(%x, %y)
  %o59 : Tensor = aten::remainder(%x, %s)
  %o60 : Tensor = aten::pow(%x, %y)
  %o61 : Tensor = aten::pow(%s, %x)
  %trunc : str = prim::Constant[value="trunc"]()
  %floor : str = prim::Constant[value="floor"]()
  %tanh : str = prim::Constant[value="tanh"]()
  %exact : str = prim::Constant[value="none"]()
  %o62 : Tensor = aten::div(%x, %y, %trunc)
  %o63 : Tensor = aten::div(%x, %s, %floor)
  %o64 : Tensor = aten::silu(%x)
  %o65 : Tensor = aten::hardsigmoid(%x)
  %o66 : Tensor = aten::hardswish(%x)
  %o67 : Tensor = aten::hardtanh(%x, %s, %two)
  %o68 : Tensor = aten::leaky_relu(%x, %half)
  %o69 : Tensor = aten::elu(%x, %half, %two, %s)
  %o70 : Tensor = aten::softplus(%x, %two, %s)
  %o71 : Tensor = aten::mish(%x)
  %o72 : Tensor = aten::threshold(%x, %half, %s)
  %o73 : Tensor = aten::gelu(%x, %exact)
  %o74 : Tensor = aten::gelu(%x, %tanh)
  %o75 : Tensor = aten::lerp(%x, %y, %half)
  %o76 : Tensor = aten::addcmul(%x, %y, %x, %s)
  %o77 : Tensor = aten::addcdiv(%x, %y, %x, %two)
  %o78 : Tensor = aten::type_as(%x, %c)
  %o79 : Tensor = aten::gelu_backward(%x, %x, %exact)
  %o80 : Tensor = aten::gelu_backward(%x, %x, %tanh)
  %o81 : Tensor = aten::native_dropout_backward(%x, %c, %s)
  return (%o0, %o1, %o2, %o3, %o4, %o5, %o6, %o7, %o8, %o9, %o10, %o11, %o12, %o13, %o14, %o15, %o16, %o17, %o18, %o19, %o20, %o21, %o22, %o23, %o24, %o25, %o26, %o27, %o28, %o29, %o30, %o31, %o32, %o33, %o34, %o35, %o36, %o37, %o38, %o39, %o40, %o41, %o42, %o43, %o44, %o45, %o46, %o47, %o48, %o49, %o50, %o51, %o52, %o53, %o54, %o55, %o56, %o57, %o58, %o59, %o60, %o61, %o62, %o63, %o64, %o65, %o66, %o67, %o68, %o69, %o70, %o71, %o72, %o73, %o74, %o75, %o76, %o77, %o78, %o79, %o80, %o81)
)IR";

// A scripted LSTM loop as the executor hands it to the pass (here unfused): `TYPE` stands
// for the inputs' types, `EXTRA` for a line of the loop body. It also returns w_ih.t(), a
// view of an input.
constexpr const char* kLstmLoopIR = R"IR(
graph(%input : TYPE, %hx.1 : TYPE, %cx.1 : TYPE, %w_ih : TYPE, %w_hh : TYPE, %b : TYPE):
  %zero : int = prim::Constant[value=0]()
  %one : int = prim::Constant[value=1]()
  %four : int = prim::Constant[value=4]()
  %true : bool = prim::Constant[value=1]()
  %outputs : Tensor[] = prim::ListConstruct()
  %n : int = aten::size(%input, %zero)
  %hx : Tensor, %cx : Tensor = prim::Loop(%n, %true, %hx.1, %cx.1)
    block0(%i : int, %h : Tensor, %c : Tensor):
      %x : Tensor = aten::select(%input, %zero, %i)
      %wt : Tensor = aten::t(%w_ih)
      %a : Tensor = aten::mm(%x, %wt)
      %ut : Tensor = aten::t(%w_hh)
      %u : Tensor = aten::mm(%h, %ut)
      %s : Tensor = aten::add(%a, %u, %one)
      %gates : Tensor = aten::add(%s, %b, %one)
      %g : Tensor[] = aten::chunk(%gates, %four, %one)
      %ig : Tensor, %fg : Tensor, %cg : Tensor, %og : Tensor = prim::ListUnpack(%g)
      %ig2 : Tensor = aten::sigmoid(%ig)
      %fg2 : Tensor = aten::sigmoid(%fg)
      %cg2 : Tensor = aten::tanh(%cg)
      %og2 : Tensor = aten::sigmoid(%og)
      %fc : Tensor = aten::mul(%fg2, %c)
      %ic : Tensor = aten::mul(%ig2, %cg2)
      %c2 : Tensor = aten::add(%fc, %ic, %one)
      %tc : Tensor = aten::tanh(%c2)
      %h2 : Tensor = aten::mul(%og2, %tc)
      EXTRA
      %appended : Tensor[] = aten::append(%outputs, %h2)
      -> (%true, %h2, %c2)
  %stacked : Tensor = aten::stack(%outputs, %zero)
  %w_ih_t : Tensor = aten::t(%w_ih)
  %r : (Tensor, Tensor, Tensor, Tensor) = prim::TupleConstruct(%stacked, %hx, %cx, %w_ih_t)
  return (%r)
)IR";

// kLstmLoopIR with its placeholders filled in.
inline std::string lstmLoopIR(const std::string& type, const std::string& extra = "") {
  std::string ir = kLstmLoopIR;
  for (size_t at = ir.find("TYPE"); at != std::string::npos; at = ir.find("TYPE", at)) {
    ir.replace(at, 4, type);
  }
  const size_t at = ir.find("EXTRA");
  ir.replace(at, 5, extra);
  return ir;
}

// Its inputs: seq x batch x in, hidden 16.
inline std::vector<IValue> lstmLoopInputs(int64_t seq, const at::TensorOptions& options) {
  return {at::randn({seq, 4, 8}, options),    at::randn({4, 16}, options),
          at::randn({4, 16}, options),        at::randn({64, 8}, options) * 0.3,
          at::randn({64, 16}, options) * 0.3, at::randn({64}, options)};
}

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

// The first FusionGroup's subgraph (groups guarded from profiles sit inside a prim::If).
inline std::shared_ptr<Graph> firstGroupSubgraph(const torch::jit::Block& block) {
  for (const torch::jit::Node* node : block.nodes()) {
    if (node->kind() == fusionGroupKind()) return node->g(c10::attr::Subgraph);
    for (const torch::jit::Block* sub : node->blocks()) {
      if (auto found = firstGroupSubgraph(*sub)) return found;
    }
  }
  return nullptr;
}
inline std::shared_ptr<Graph> firstGroupSubgraph(const Graph& graph) {
  return firstGroupSubgraph(*graph.block());
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

// Wraps every node of `graph` in one fuser::FusionGroup, as the pass would if the nodes
// were all connected: tests the kernel side on graphs of unrelated ops.
inline void wrapInOneGroup(Graph& graph) {
  std::vector<torch::jit::Node*> nodes(graph.nodes().begin(), graph.nodes().end());
  torch::jit::Node* group = nullptr;
  for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
    if (!group) {
      group = torch::jit::SubgraphUtils::createSingletonSubgraph(*it, fusionGroupKind());
    } else {
      torch::jit::SubgraphUtils::mergeNodeIntoSubgraph(*it, group);
    }
  }
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

// (x*y + 1) - x*y: a kernel that contracts the product into the add (one rounding
// instead of eager's two) differs from eager after the cancellation.
inline void checkMultiplyThenAddRoundsTwice(const at::TensorOptions& options) {
  const char* ir = R"IR(
graph(%x : Tensor, %y : Tensor):
  %one : int = prim::Constant[value=1]()
  %p : Tensor = aten::mul(%x, %y)
  %s : Tensor = aten::add(%p, %one, %one)
  %d : Tensor = aten::sub(%s, %p, %one)
  return (%d)
)IR";
  for (at::ScalarType dtype : {at::kFloat, at::kDouble}) {
    const auto typed = options.dtype(dtype);
    checkFusedMatchesEager(ir, {at::randn({4096}, typed) * 100, at::randn({4096}, typed) * 100});
  }
}

// add, sub and rsub with an alpha other than 1, bit for bit as eager: its float kernels
// compute self + alpha * other with one rounding (an FMA); rounding the product first
// differs in about a quarter of the elements, and a comparison after a cancellation
// (x*3 - x - 2x == 0) flips (fuzz seed 1455244). 4096 elements: only eager's vector loop
// (no scalar tail, which may round twice) computes them on the CPU.
inline void checkAddWithAlphaRoundsOnce(const at::TensorOptions& options,
                                        std::vector<at::ScalarType> dtypes) {
  const char* ir = R"IR(
graph(%x : Tensor, %y : Tensor):
  %three : int = prim::Constant[value=3]()
  %tenth : float = prim::Constant[value=0.1]()
  %a : Tensor = aten::sub(%x, %y, %three)
  %b : Tensor = aten::add(%x, %y, %tenth)
  %c : Tensor = aten::rsub(%x, %y, %three)
  return (%a, %b, %c)
)IR";
  for (at::ScalarType dtype : dtypes) {
    const at::Tensor x = at::randn({4096}, options.dtype(dtype));
    const at::Tensor y = at::randn({4096}, options.dtype(dtype));
    auto fused = parseIR(ir);
    fuseGraph(fused);
    ASSERT_EQ(countGroups(*fused), 1u);
    const int64_t fallbacks = getStats().fallbacks;
    const auto actual = runGraph(fused, {x, y});
    ASSERT_EQ(getStats().fallbacks, fallbacks) << "the kernel did not run";
    const auto expected = runGraph(parseIR(ir), {x, y});
    for (size_t i = 0; i < actual.size(); ++i) {
      const at::Tensor a = actual[i].toTensor(), e = expected[i].toTensor();
      EXPECT_TRUE(at::equal(a, e)) << c10::toString(dtype) << " output " << i << ": "
                                   << a.ne(e).sum().item<int64_t>() << " elements differ";
    }
  }
}

// x / 0.001 bit for bit as eager: its CUDA kernel multiplies by the number's reciprocal
// (exactly 1000 in float: taken in double, then rounded), its CPU kernel divides. (Eager's
// CPU 16-bit kernels may round the number itself to 16 bits: CPUFusion checks float and
// double only.)
inline void checkDivisionByANumberIsEagersBitForBit(const at::TensorOptions& options,
                                                    std::vector<at::ScalarType> dtypes) {
  const char* ir = R"IR(
graph(%x : Tensor):
  %s : float = prim::Constant[value=0.001]()
  %q : Tensor = aten::div(%x, %s)
  return (%q)
)IR";
  for (at::ScalarType dtype : dtypes) {
    const at::Tensor x = at::randn({4096}, options.dtype(dtype));
    auto fused = parseIR(ir);
    fuseGraph(fused);
    const at::Tensor actual = runGraph(fused, {x})[0].toTensor();
    const at::Tensor expected = runGraph(parseIR(ir), {x})[0].toTensor();
    EXPECT_TRUE(at::equal(actual, expected))
        << c10::toString(dtype) << ": differs from eager's by up to "
        << (actual - expected).abs().max().item<double>();
  }
}

// Comparisons, floor and fmod in float16/bfloat16 see their operands as eager does,
// rounded to 16 bits: a float scalar tensor (0.22964 rounds to x's 0.2294921875, so
// x != s is false), a Python number (0.1 rounds to bfloat16's 0.10009765625) and an
// intermediate (x * y is 2.9978 in float, 3 in bfloat16, so its floor is 3). The kernel
// computes in float, where each of these steps the other way (fuzz seed 1315235).
inline void checkSteppingOpsRoundSixteenBitOperands(const at::TensorOptions& options,
                                                    std::vector<at::ScalarType> dtypes) {
  const char* ir = R"IR(
graph(%x : Tensor, %s : Tensor, %y : Tensor):
  %c : float = prim::Constant[value=0.1]()
  %d : float = prim::Constant[value=1.]()
  %p : Tensor = aten::mul(%x, %y)
  %f : Tensor = aten::floor(%p)
  %ne : Tensor = aten::ne(%x, %s)
  %gt : Tensor = aten::gt(%x, %c)
  %m : Tensor = aten::fmod(%p, %d)
  %lt : Tensor = aten::lt(%p, %y)
  return (%f, %ne, %gt, %m, %lt)
)IR";
  for (at::ScalarType dtype : dtypes) {
    const at::Tensor x =
        at::tensor({0.2294921875, 0.1, 0.2294921875, -0.1}, at::kDouble).to(options.dtype(dtype));
    const at::Tensor s = at::tensor(0.22964, options.dtype(at::kFloat));
    const at::Tensor y =
        at::tensor({13.07, 2.5, -13.07, 1.0}, at::kDouble).to(options.dtype(dtype));
    auto fused = parseIR(ir);
    fuseGraph(fused);
    ASSERT_EQ(countGroups(*fused), 1u);
    const int64_t launches = getStats().kernel_launches;
    const std::vector<IValue> actual = runGraph(fused, {x, s, y});
    EXPECT_EQ(getStats().kernel_launches, launches + 1) << c10::toString(dtype);
    const std::vector<IValue> expected = runGraph(parseIR(ir), {x, s, y});
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_TRUE(at::equal(actual[i].toTensor(), expected[i].toTensor()))
          << c10::toString(dtype) << " output " << i << ": fused " << actual[i].toTensor()
          << " eager " << expected[i].toTensor();
    }
  }
}

// Three random inputs of `shape` for kChainIR.
inline std::vector<IValue> chainInputs(at::IntArrayRef shape, const at::TensorOptions& options) {
  return {at::randn(shape, options), at::randn(shape, options), at::randn(shape, options)};
}

// A private, empty cache directory for one test.
class TempCacheDir {
 public:
  TempCacheDir() {
    char pattern[] = "/tmp/torch_fuser_cache_test_XXXXXX";
    path_ = ::mkdtemp(pattern);
    guard_ = std::make_unique<EnvGuard>("TORCH_FUSER_CACHE_DIR", path_.c_str());
    clearCache();  // forget kernels compiled with another cache
  }
  ~TempCacheDir() {
    guard_.reset();
    clearCache();
    removeDirectory(path_);
  }
  const std::string& path() const { return path_; }
  std::vector<std::string> entries() const { return listFiles(path_); }

 private:
  std::string path_;
  std::unique_ptr<EnvGuard> guard_;
};

// A fused chain on `options`' device compiles once, leaves one entry named *`extension`
// in the disk cache, and a process with nothing in memory (clearCache) loads it from
// there instead of compiling.
inline void checkReloadsKernelsFromTheDiskCache(const at::TensorOptions& options,
                                                const std::string& extension) {
  TempCacheDir cache;
  const Stats before = getStats();
  checkFusedMatchesEager(kChainIR, chainInputs({9, 9}, options));
  EXPECT_EQ(getStats().kernels_compiled, before.kernels_compiled + 1);
  ASSERT_EQ(cache.entries().size(), 1u);
  const std::string entry = cache.entries()[0];
  ASSERT_GE(entry.size(), extension.size());
  EXPECT_EQ(entry.substr(entry.size() - extension.size()), extension) << entry;
  clearCache();  // as a new process would: nothing in memory
  checkFusedMatchesEager(kChainIR, chainInputs({9, 9}, options));
  EXPECT_EQ(getStats().kernels_compiled, before.kernels_compiled + 1);
  EXPECT_EQ(getStats().disk_cache_hits, before.disk_cache_hits + 1);
}

// Runs the fused chain at one size, then at `shapes`: results match eager and nothing
// new is compiled (kernels are not specialized on sizes).
inline void checkNewSizesReuseTheKernel(const at::TensorOptions& options,
                                        const std::vector<std::vector<int64_t>>& shapes) {
  auto graph = parseIR(kChainIR);
  fuseGraph(graph);
  runGraph(graph, chainInputs({16, 16}, options));
  const int64_t compiled = nCompiledKernels();
  for (const auto& shape : shapes) {
    auto inputs = chainInputs(shape, options);
    expectSameTensor(runGraph(graph, inputs)[0].toTensor(),
                     runGraph(parseIR(kChainIR), inputs)[0].toTensor());
  }
  EXPECT_EQ(nCompiledKernels(), compiled);
}

// float16 and bfloat16 inputs: a kernel runs, the output keeps the dtype, and it is the
// float computation rounded once (within one 16-bit rounding of it).
inline void checkReducedPrecisionComputesInFloat(at::IntArrayRef shape, const at::Device& device) {
  auto graph = parseIR(kChainIR);
  fuseGraph(graph);
  ASSERT_EQ(countGroups(*graph), 1u);
  for (at::ScalarType dtype : {at::kHalf, at::kBFloat16}) {
    const auto narrow = chainInputs(shape, at::TensorOptions().dtype(dtype).device(device));
    std::vector<IValue> widened;  // the narrow values, exactly, in float
    for (const IValue& v : narrow) widened.push_back(v.toTensor().to(at::kFloat));
    const int64_t fallbacks = getStats().fallbacks;
    const at::Tensor out = runGraph(graph, narrow)[0].toTensor();
    EXPECT_EQ(getStats().fallbacks, fallbacks);
    ASSERT_EQ(out.scalar_type(), dtype);
    const at::Tensor reference = runGraph(parseIR(kChainIR), widened)[0].toTensor();
    const double tolerance = dtype == at::kHalf ? 1e-3 : 8e-3;
    expectSameTensor(out.to(at::kFloat), reference.to(dtype).to(at::kFloat), tolerance, tolerance);
  }
}

}  // namespace testing
}  // namespace torch_fuser
