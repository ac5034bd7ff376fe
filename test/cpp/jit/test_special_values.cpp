// Every pair of unary float ops of the op table, f(g(x)), on special values — NaN, ±Inf,
// ±0, denormals, the overflow edges of exp/sinh/cosh — fused vs eager, on CPU and CUDA.
// A fused value that differs from eager's passes only if float64 math gives it from g's
// value rounded to the dtype or from a neighbour two ulps away (eager's own vector and
// scalar paths disagree at overflow edges, and some pairs magnify an ulp of g); a NaN
// where float64 has none fails.
#include "test/cpp/jit/special_values.h"

#include "test/cpp/jit/test_utils.h"

#include <cmath>
#include <iostream>
#include <limits>
#include <sstream>

namespace torch_fuser {
namespace testing {
namespace {

const char* const kUnaryOps[] = {"neg",   "abs",  "relu",        "reciprocal", "sigmoid", "tanh",
                                 "exp",   "log",  "sqrt",        "rsqrt",      "exp2",    "expm1",
                                 "log1p", "log2", "log10",       "sin",        "cos",     "tan",
                                 "asin",  "acos", "atan",        "sinh",       "cosh",    "erf",
                                 "erfc",  "ceil", "floor",       "round",      "trunc",   "frac",
                                 "sign",  "silu", "hardsigmoid", "hardswish",  "mish",    "lgamma"};

// f(g(x)) for every g, as outputs of one graph.
std::string pairsIR(const std::string& f) {
  std::ostringstream ir;
  ir << "graph(%x : Tensor):\n";
  std::string outputs;
  int i = 0;
  for (const char* g : kUnaryOps) {
    ir << "  %g" << i << " : Tensor = aten::" << g << "(%x)\n";
    ir << "  %f" << i << " : Tensor = aten::" << f << "(%g" << i << ")\n";
    outputs += (i ? ", %f" : "%f") + std::to_string(i);
    ++i;
  }
  ir << "  return (" << outputs << ")\n";
  return ir.str();
}

at::Tensor specialValues(at::ScalarType dtype, const at::Device& device) {
  const bool f32 = dtype == at::kFloat;
  std::vector<double> v = {NAN,
                           -NAN,
                           INFINITY,
                           -INFINITY,
                           0.0,
                           -0.0,
                           1.0,
                           -1.0,
                           0.5,
                           -0.5,
                           2.0,
                           -2.0,
                           1e30,
                           -1e30,
                           3.0e38,
                           -3.0e38,
                           1.5707963267948966,
                           3.141592653589793,
                           0.9999999,
                           -0.9999999,
                           1.0000001,
                           20.0,
                           -20.0};
  // Denormals, and the edges where exp, sinh and cosh overflow or underflow.
  const std::vector<double> edges =
      f32 ? std::vector<double>{1e-45, -1e-45, 1e-40,  1.1754942e-38, 88.72, 88.73,
                                89.41, 89.42,  -87.33, -103.97,       -104.0}
          : std::vector<double>{5e-324,  -5e-324, 1e-310,  2.2250738585072009e-308,
                                709.78,  709.79,  710.47,  710.48,
                                -708.39, -745.13, -745.14, 1e300,
                                -1e300};
  v.insert(v.end(), edges.begin(), edges.end());
  // Repeated so vector loops and their scalar tails both see every value.
  return at::tensor(v, at::kDouble).repeat({19}).reshape({19, -1}).to(dtype).to(device);
}

std::string singleOpIR(const std::string& op) {
  return "graph(%x : Tensor):\n  %y : Tensor = aten::" + op + "(%x)\n  return (%y)\n";
}

std::string innerOpsIR() {
  std::string ir = "graph(%x : Tensor):\n", outputs;
  int i = 0;
  for (const char* g : kUnaryOps) {
    ir += "  %g" + std::to_string(i) + " : Tensor = aten::" + g + "(%x)\n";
    outputs += (i ? ", %g" : "%g") + std::to_string(i);
    ++i;
  }
  return ir + "  return (" + outputs + ")\n";
}

// f computed in float64 at g's value rounded to `dtype` and at its neighbours two ulps
// either way: where f magnifies an ulp of g (sin of a huge tan), any value in that range
// is as right as eager's.
struct Bounds {
  at::Tensor lo, hi, all_nan, exact;
};

Bounds boundsOf(const std::string& f, const at::Tensor& g64, at::ScalarType dtype) {
  const at::Tensor g = g64.to(dtype);
  const at::Tensor up = at::full_like(g, INFINITY), down = at::full_like(g, -INFINITY);
  std::vector<at::Tensor> candidates = {g};
  at::Tensor a = g, b = g;
  for (int step = 0; step < 2; ++step) {
    a = at::nextafter(a, up);
    b = at::nextafter(b, down);
    candidates.push_back(a);
    candidates.push_back(b);
  }
  auto graph = parseIR(singleOpIR(f));
  std::vector<at::Tensor> values;
  for (const at::Tensor& c : candidates) {
    values.push_back(runGraph(graph, {c.to(at::kDouble)})[0].toTensor());
  }
  const at::Tensor stacked = at::stack(values);
  const at::Tensor nan = stacked.isnan();
  const at::Tensor finite_or_inf = stacked.masked_fill(nan, 0.0);
  return Bounds{at::where(nan, at::full_like(stacked, INFINITY), stacked).amin(0),
                at::where(nan, at::full_like(stacked, -INFINITY), stacked).amax(0), nan.all(0),
                values.front().to(dtype).to(at::kDouble)};
}

bool same(double a, double b, bool f32) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (std::isinf(a) || std::isinf(b)) return a == b;
  const double tol = f32 ? 1e-5 : 1e-12;
  return std::abs(a - b) <= tol * std::max(1.0, std::max(std::abs(a), std::abs(b)));
}

// Where the kernel's g and eager's part at an edge no pair is judged on: one overflows
// where the other does not (eager's vector and scalar paths disagree there too), or one
// flushes a denormal to zero.
bool atAnEdge(double kernel_g, double eager_g, double got, double want, double exact, bool f32) {
  const double max = f32 ? 3.4028234663852886e38 : 1.7976931348623157e308;
  const double min_normal = f32 ? 1.1754943508222875e-38 : 2.2250738585072014e-308;
  if (std::isinf(kernel_g) != std::isinf(eager_g)) {
    return std::abs(std::isinf(kernel_g) ? eager_g : kernel_g) > max / 64;
  }
  // f itself overflows in one and not the other, near its overflow edge (sinh, cosh,
  // exp of ~709.8) or on a huge input (eager's vectorized log1p gives inf past 1e307, its
  // scalar path does not).
  if (std::isinf(got) != std::isinf(want)) {
    const double finite = std::isinf(got) ? want : got;
    if (std::abs(eager_g) > max / 64 || std::abs(finite) > max / 64) return true;
  }
  // Both finite but huge where the float64 reference (eager's CPU path) overflows: CUDA's
  // and the CPU's sinh/cosh differ by more than an ulp there.
  if (std::isinf(exact) && !std::isinf(got) && std::abs(got) > max / 64) return true;
  return (kernel_g == 0 || eager_g == 0) && kernel_g != eager_g &&
         std::abs(kernel_g + eager_g) < min_normal;
}

// Whether `got` (fused) is acceptable where eager gave `want`.
bool acceptable(double got, double want, double lo, double hi, bool all_nan, double exact,
                bool f32) {
  if (same(got, want, f32) || same(got, exact, f32)) return true;
  if (std::isnan(got)) return all_nan;
  const double tol = (f32 ? 1e-5 : 1e-12) * std::max(1.0, std::abs(got));
  return got >= lo - tol && got <= hi + tol;
}

}  // namespace

void checkEveryUnaryPair(const at::Device& device) {
  FusionGuard fusion;
  int failures = 0;
  int64_t edges = 0;
  for (at::ScalarType dtype : {at::kFloat, at::kDouble}) {
    const bool f32 = dtype == at::kFloat;
    const at::Tensor x = specialValues(dtype, device);
    const at::Tensor x64 = x.to(at::kDouble).cpu();
    const auto inner64 = runGraph(parseIR(innerOpsIR()), {x64});
    // The inner values, eager's and a kernel's (its own: in the pairs' kernel each is read
    // once, as a compiler folding f(g(x)) would need), to tell where they part at an edge.
    const auto eager_inner = runGraph(parseIR(innerOpsIR()), {x});
    auto inner_kernel = parseIR(innerOpsIR());
    wrapInOneGroup(*inner_kernel);
    const auto kernel_inner = runGraph(inner_kernel, {x});
    for (const char* f : kUnaryOps) {
      const std::string ir = pairsIR(f);
      auto fused = parseIR(ir);
      wrapInOneGroup(*fused);  // one kernel computes every pair
      const int64_t fallbacks = getStats().fallbacks;
      const auto actual = runGraph(fused, {x});
      ASSERT_EQ(getStats().fallbacks, fallbacks) << f << ": the kernel did not run";
      const auto expected = runGraph(parseIR(ir), {x});
      for (size_t i = 0; i < actual.size(); ++i) {
        const at::Tensor kernel_g = kernel_inner[i].toTensor().to(at::kDouble).cpu().flatten();
        const at::Tensor eager_g = eager_inner[i].toTensor().to(at::kDouble).cpu().flatten();
        const at::Tensor got = actual[i].toTensor().to(at::kDouble).cpu().flatten();
        const at::Tensor want = expected[i].toTensor().to(at::kDouble).cpu().flatten();
        const Bounds bounds = boundsOf(f, inner64[i].toTensor(), dtype);
        const at::Tensor lo = bounds.lo.flatten(), hi = bounds.hi.flatten();
        const at::Tensor all_nan = bounds.all_nan.flatten(), exact = bounds.exact.flatten();
        const at::Tensor in = x64.flatten();
        for (int64_t k = 0; k < got.numel(); ++k) {
          const double a = got[k].item<double>(), b = want[k].item<double>();
          if (atAnEdge(kernel_g[k].item<double>(), eager_g[k].item<double>(), a, b,
                       exact[k].item<double>(), f32)) {
            ++edges;
            continue;
          }
          if (acceptable(a, b, lo[k].item<double>(), hi[k].item<double>(), all_nan[k].item<bool>(),
                         exact[k].item<double>(), f32)) {
            continue;
          }
          if (++failures > 60) continue;
          ADD_FAILURE() << c10::toString(dtype) << " " << f << "(" << kUnaryOps[i] << "("
                        << in[k].item<double>() << ")) on " << device << ": fused " << a
                        << ", eager " << b << ", float64 from g rounded " << exact[k].item<double>()
                        << " (range " << lo[k].item<double>() << " .. " << hi[k].item<double>()
                        << ")";
        }
      }
    }
  }
  EXPECT_EQ(failures, 0);
  std::cout << "[special values] " << edges << " values at overflow/denormal edges not judged\n";
}

namespace {

// Each op whose integer result can overflow, clamped to [0, 5] (or compared with 0) so
// that a wrong wrap shows as a different small number: a compiler that drops the
// narrowing after the op (NVRTC did, in the 16-byte vector loop for int8) gives 5
// where eager gives 0. Then the ops that shift, divide or compare their operand, whose
// results show a byte that leaked in from the neighbouring lane (NVRTC: int8 x // 2 was
// -128 for x = 0 next to a 1), and int64 abs under a clamp (ptxas folded it to -3).
std::string overflowIR(at::ScalarType dtype) {
  std::ostringstream ir;
  ir << "graph(%x : Tensor):\n"
     << "  %one : int = prim::Constant[value=1]()\n"
     << "  %three : int = prim::Constant[value=3]()\n"
     << "  %zero : int = prim::Constant[value=0]()\n"
     << "  %five : int = prim::Constant[value=5]()\n"
     << "  %hundred : int = prim::Constant[value=100]()\n"
     << "  %big : int = prim::Constant[value=77]()\n"
     << "  %int32 : int = prim::Constant[value=" << static_cast<int>(at::kInt) << "]()\n"
     << "  %float32 : int = prim::Constant[value=" << static_cast<int>(at::kFloat) << "]()\n"
     << "  %self : int = prim::Constant[value=" << static_cast<int>(dtype) << "]()\n"
     << "  %false : bool = prim::Constant[value=0]()\n"
     << "  %none : NoneType = prim::Constant()\n"
     << "  %a : Tensor = aten::add(%x, %one, %one)\n"
     << "  %m : Tensor = aten::mul(%x, %three)\n"
     << "  %s : Tensor = aten::sub(%x, %hundred, %one)\n"
     << "  %n : Tensor = aten::neg(%x)\n"
     << "  %b : Tensor = aten::abs(%x)\n"
     << "  %l : Tensor = aten::__lshift__(%x, %three)\n"
     << "  %w : Tensor = aten::to(%x, %int32, %false, %false, %none)\n"
     << "  %wm : Tensor = aten::mul(%w, %big)\n"
     << "  %c : Tensor = aten::to(%wm, %self, %false, %false, %none)\n";
  std::string outputs;
  for (const char* v : {"a", "m", "n", "b", "l", "c"}) {
    ir << "  %" << v << "5 : Tensor = aten::clamp(%" << v << ", %zero, %five)\n";
    outputs += std::string("%") + v + "5, ";
  }
  ir << "  %sg : Tensor = aten::gt(%s, %zero)\n"
     << "  %two : int = prim::Constant[value=2]()\n"
     << "  %trunc : str = prim::Constant[value=\"trunc\"]()\n"
     << "  %six : int = prim::Constant[value=6]()\n"
     << "  %minus3 : int = prim::Constant[value=-3]()\n"
     << "  %fd : Tensor = aten::floor_divide(%x, %two)\n"
     << "  %dt : Tensor = aten::div(%x, %three, %trunc)\n"
     << "  %rm : Tensor = aten::remainder(%x, %three)\n"
     << "  %fm : Tensor = aten::fmod(%x, %six)\n"
     << "  %rs : Tensor = aten::__rshift__(%x, %one)\n"
     << "  %an : Tensor = aten::__and__(%x, %six)\n"
     << "  %lt : Tensor = aten::lt(%x, %one)\n"
     << "  %fl : Tensor = aten::to(%x, %float32, %false, %false, %none)\n";
  outputs += "%sg, %fd, %dt, %rm, %fm, %rs, %an, %lt, %fl";
  if (dtype != at::kByte) {  // seed 1302795, where a negative bound exists
    ir << "  %minus1 : int = prim::Constant[value=-1]()\n"
       << "  %nine : int = prim::Constant[value=9]()\n"
       << "  %xc : Tensor = aten::clamp(%x, %minus1, %five)\n"
       << "  %xf : Tensor = aten::fmod(%xc, %six)\n"
       << "  %xa : Tensor = aten::abs(%xf)\n"
       << "  %xd : Tensor = aten::floor_divide(%xa, %minus1)\n"
       << "  %xr : Tensor = aten::clamp(%xd, %minus3, %nine)\n";
    outputs += ", %xr";
  }
  ir << "  return (" << outputs << ")\n";
  return ir.str();
}

// Every value of an 8- or 16-bit dtype; the edges and a random sample of a wider one.
at::Tensor integerValues(at::ScalarType dtype) {
  const auto cpu = at::TensorOptions().dtype(at::kLong);
  if (c10::elementSize(dtype) <= 2) {
    const int64_t bits = 8 * static_cast<int64_t>(c10::elementSize(dtype));
    const bool is_signed = dtype != at::kByte;
    const int64_t lo = is_signed ? -(int64_t(1) << (bits - 1)) : 0;
    return at::arange(lo, lo + (int64_t(1) << bits), cpu).to(dtype);
  }
  const int64_t max =
      dtype == at::kInt ? std::numeric_limits<int32_t>::max() : std::numeric_limits<int64_t>::max();
  const int64_t min = -max - 1;
  std::vector<int64_t> edges = {min, min + 1, -101, -100, -1, 0, 1, 99, 100, 101, max - 1, max};
  at::Tensor sample = at::randint(-(int64_t(1) << 40), int64_t(1) << 40, {4084}, cpu);
  return at::cat({at::tensor(edges, cpu), sample}).to(dtype);
}

}  // namespace

void checkIntegerOverflowWraps(const at::Device& device) {
  FusionGuard fusion;
  for (at::ScalarType dtype : {at::kByte, at::kChar, at::kShort, at::kInt, at::kLong}) {
    const at::Tensor values = integerValues(dtype).to(device);
    // 16 copies: a multiple of every vector width, every value in every lane.
    const at::Tensor tiled = values.repeat({16});
    const at::Tensor wide = at::cat({tiled, tiled.slice(0, 0, 1)});
    const std::vector<std::pair<const char*, at::Tensor>> layouts = {
        {"contiguous", tiled},
        {"misaligned", wide.slice(0, 1)},
        {"transposed", tiled.reshape({16, -1}).t()},
        // Every value beside random neighbours in the vector loop.
        {"shuffled",
         tiled.index_select(0, at::randperm(tiled.numel(), tiled.options().dtype(at::kLong)))},
    };
    const std::string ir = overflowIR(dtype);
    for (const auto& layout : layouts) {
      SCOPED_TRACE(std::string(c10::toString(dtype)) + " " + layout.first + " on " + device.str());
      auto fused = parseIR(ir);
      wrapInOneGroup(*fused);
      const int64_t fallbacks = getStats().fallbacks;
      const auto actual = runGraph(fused, {layout.second});
      ASSERT_EQ(getStats().fallbacks, fallbacks) << "the kernel did not run";
      const auto expected = runGraph(parseIR(ir), {layout.second});
      ASSERT_EQ(actual.size(), expected.size());
      for (size_t i = 0; i < actual.size(); ++i) {
        expectSameTensor(actual[i].toTensor(), expected[i].toTensor());
      }
    }
  }
}

namespace {

// Every op that picks between x and a bound, applied to +-0 (and a NaN and nonzero
// values so ties are not the only case). On CUDA also the tensor-tensor forms: eager's CPU
// kernels answer a +-0 tie between two tensors differently in their vector loop and its
// tail, so no fused kernel can match them there. (Not elu: eager's changed, torch 1.13
// computes exp(x) - 1, +0 for -0, torch 2 expm1, -0; the kernel follows torch 2.)
std::string signedZeroIR(bool tensor_bounds) {
  std::string ir = R"IR(
graph(%x : Tensor, %zeros : Tensor, %minus_zeros : Tensor):
  %zero : float = prim::Constant[value=0.]()
  %one : float = prim::Constant[value=1.]()
  %minus_one : float = prim::Constant[value=-1.]()
  %six : float = prim::Constant[value=6.]()
  %slope : float = prim::Constant[value=0.01]()
  %r0 : Tensor = aten::relu(%x)
  %r1 : Tensor = aten::clamp(%x, %zero, %one)
  %r2 : Tensor = aten::clamp(%x, %minus_one, %zero)
  %r3 : Tensor = aten::clamp_min(%x, %zero)
  %r4 : Tensor = aten::clamp_max(%x, %zero)
  %r5 : Tensor = aten::hardtanh(%x, %zero, %six)
  %r6 : Tensor = aten::hardtanh(%x, %minus_one, %zero)
  %r7 : Tensor = aten::threshold(%x, %zero, %zero)
  %r8 : Tensor = aten::leaky_relu(%x, %slope)
  %r9 : Tensor = aten::hardswish(%x)
  %r10 : Tensor = aten::reciprocal(%r0)
)IR";
  std::string outputs = "%r0, %r1, %r2, %r3, %r4, %r5, %r6, %r7, %r8, %r9, %r10";
  if (tensor_bounds) {
    ir += R"IR(  %t0 : Tensor = aten::maximum(%x, %zeros)
  %t1 : Tensor = aten::maximum(%x, %minus_zeros)
  %t2 : Tensor = aten::minimum(%x, %zeros)
  %t3 : Tensor = aten::minimum(%x, %minus_zeros)
  %t4 : Tensor = aten::maximum(%zeros, %x)
  %t5 : Tensor = aten::minimum(%minus_zeros, %x)
  %none : NoneType = prim::Constant()
  %t6 : Tensor = aten::clamp(%x, %zeros, %none)
  %t7 : Tensor = aten::clamp(%x, %none, %minus_zeros)
)IR";
    outputs += ", %t0, %t1, %t2, %t3, %t4, %t5, %t6, %t7";
  }
  return ir + "  return (" + outputs + ")\n";
}

}  // namespace

void checkSignedZeroTies(const at::Device& device) {
  FusionGuard fusion;
  const bool cuda = device.is_cuda();
  const std::vector<at::ScalarType> dtypes =
      cuda ? std::vector<at::ScalarType>{at::kFloat, at::kDouble, at::kHalf, at::kBFloat16}
           : std::vector<at::ScalarType>{at::kFloat, at::kDouble};
  const std::string ir = signedZeroIR(/*tensor_bounds=*/cuda);
  for (at::ScalarType dtype : dtypes) {
    SCOPED_TRACE(std::string(c10::toString(dtype)) + " on " + device.str());
    const auto options = at::TensorOptions().dtype(dtype).device(device);
    // 17 repeats: the vector loop and its tail both see every value.
    const at::Tensor x =
        at::tensor({-0.0, 0.0, -0.0, 1.5, -1.5, NAN}, at::kDouble).repeat({17}).to(options);
    const at::Tensor zeros = at::zeros_like(x), minus_zeros = -at::zeros_like(x);
    auto fused = parseIR(ir);
    wrapInOneGroup(*fused);
    const int64_t fallbacks = getStats().fallbacks;
    const auto actual = runGraph(fused, {x, zeros, minus_zeros});
    ASSERT_EQ(getStats().fallbacks, fallbacks) << "the kernel did not run";
    const auto expected = runGraph(parseIR(ir), {x, zeros, minus_zeros});
    ASSERT_EQ(actual.size(), expected.size());
    for (size_t i = 0; i < actual.size(); ++i) {
      const at::Tensor got = actual[i].toTensor(), want = expected[i].toTensor();
      expectSameTensor(got, want);
      // The sign of a NaN is not a value (eager's own loops disagree on it).
      auto signs = [](const at::Tensor& t) { return t.signbit().masked_fill(t.isnan(), false); };
      EXPECT_TRUE(at::equal(signs(got), signs(want)))
          << "output " << i << " has other signs than eager's\nfused:\n"
          << got << "\neager:\n"
          << want;
    }
  }
}

void checkNaNFailsComparisonsOfMagnitudes(const at::Device& device) {
  FusionGuard fusion;
  // |x| >= 0, |x| > -1 and -|x| <= 0 are false for NaN: ptxas 13.0 folded them to true
  // (fuzz seed 1338458).
  const char* ir = R"IR(
graph(%x : Tensor):
  %zero : float = prim::Constant[value=0.]()
  %minus_one : float = prim::Constant[value=-1.]()
  %other : float = prim::Constant[value=-1.5]()
  %a : Tensor = aten::abs(%x)
  %p : Tensor = aten::ge(%a, %zero)
  %r0 : Tensor = aten::where(%p, %a, %other)
  %q : Tensor = aten::gt(%a, %minus_one)
  %r1 : Tensor = aten::where(%q, %a, %other)
  %n : Tensor = aten::neg(%a)
  %t : Tensor = aten::le(%n, %zero)
  %r2 : Tensor = aten::where(%t, %n, %other)
  return (%r0, %r1, %r2)
)IR";
  for (at::ScalarType dtype : {at::kFloat, at::kDouble}) {
    SCOPED_TRACE(std::string(c10::toString(dtype)) + " on " + device.str());
    const at::Tensor x = at::tensor({NAN, -0.5, 2.0, -INFINITY, 0.0, -NAN}, at::kDouble)
                             .repeat({17})
                             .to(at::TensorOptions().dtype(dtype).device(device));
    auto fused = parseIR(ir);
    fuseGraph(fused);
    ASSERT_EQ(countGroups(*fused), 1u);
    const int64_t fallbacks = getStats().fallbacks;
    const auto actual = runGraph(fused, {x});
    ASSERT_EQ(getStats().fallbacks, fallbacks) << "the kernel did not run";
    const auto expected = runGraph(parseIR(ir), {x});
    for (size_t i = 0; i < actual.size(); ++i) {
      expectSameTensor(actual[i].toTensor(), expected[i].toTensor());
    }
  }
}

namespace {

TEST(CPUFusion, KeepsTheSignOfZeroThroughClampLikeOpsAsEager) {
  checkSignedZeroTies(at::kCPU);
}

TEST(CPUFusion, NaNFailsComparisonsOfMagnitudes) {
  checkNaNFailsComparisonsOfMagnitudes(at::kCPU);
}

TEST(CPUFusion, IntegerOverflowWrapsAsEagerInEveryLoop) {
  checkIntegerOverflowWraps(at::kCPU);
}

TEST(CPUFusion, EveryPairOfUnaryOpsMatchesEagerOnSpecialValues) {
  checkEveryUnaryPair(at::kCPU);
}

}  // namespace
}  // namespace testing
}  // namespace torch_fuser
