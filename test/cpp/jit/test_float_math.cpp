// CPUFusion: the float32 math of CPU kernels (cpu_float_math.h) against eager's, in ulps
// of the float64 result, on values spread over each function's range and on its special
// values.
#include "test/cpp/jit/test_utils.h"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace torch_fuser {
namespace testing {
namespace {

struct MathCase {
  const char* op;
  double lo, hi;    // where the values lie
  bool log_spaced;  // spread over magnitudes (positive ranges)
  // The error allowed where eager's is smaller: half an ulp (correctly rounded but for
  // near-ties), or for tanh, which stays glibc's for speed, its 1.03 ulps.
  double allowed = 0.51;
};

// Float32 ulps between `got` and the float64 `want`, per element; 0 where both are the
// same NaN-ness or the same infinity, +inf where only one is special.
at::Tensor ulpsOf(const at::Tensor& got, const at::Tensor& want) {
  const at::Tensor rounded = want.to(at::kFloat);
  const at::Tensor magnitude = rounded.abs();
  at::Tensor spacing =
      (at::nextafter(magnitude, at::full_like(magnitude, std::numeric_limits<float>::infinity())) -
       magnitude)
          .to(at::kDouble);
  spacing = at::where(spacing.gt(0), spacing, at::full_like(spacing, std::ldexp(1.0, -149)));
  at::Tensor err = (got.to(at::kDouble) - want).abs() / spacing;
  const at::Tensor special_agree =
      (got.isnan() & rounded.isnan()) | (got.isinf() & got.eq(rounded));
  const at::Tensor special_disagree =
      (got.isnan() | got.isinf() | rounded.isnan() | rounded.isinf()) & special_agree.logical_not();
  err = at::where(special_agree, at::zeros_like(err), err);
  return at::where(special_disagree, at::full_like(err, std::numeric_limits<double>::infinity()),
                   err);
}

at::Tensor valuesFor(const MathCase& c) {
  at::manual_seed(7);
  const int64_t n = 1 << 16;
  at::Tensor values;
  if (c.log_spaced) {
    values = at::exp(at::empty({n}, at::kDouble).uniform_(std::log(c.lo), std::log(c.hi)));
  } else {
    values = at::empty({n}, at::kDouble).uniform_(c.lo, c.hi);
  }
  const float inf = std::numeric_limits<float>::infinity();
  const at::Tensor special =
      at::tensor({0.0f,    -0.0f,  inf,    -inf,    std::numeric_limits<float>::quiet_NaN(),
                  1.0f,    -1.0f,  1e-45f, -1e-45f, 1e-30f,
                  -1e-30f, 88.72f, 88.73f, 89.5f,   -103.9f,
                  -104.5f, 9.01f,  -9.01f, 20.5f,   130.0f,
                  -150.0f, 3e38f,  -3e38f});
  return at::cat({values.to(at::kFloat), special});
}

std::string irFor(const char* op) {
  return std::string(R"IR(
graph(%x : Tensor):
  %one : float = prim::Constant[value=1.]()
  %y : Tensor = aten::)IR") +
         op + R"IR((%x)
  %z : Tensor = aten::mul(%y, %one)
  return (%z)
)IR";
}

// Eager's CPU kernels use Sleef's 1-ulp functions, glibc's vector variants (what loops
// calling expf vectorize to) are allowed several ulps: measured with them, exp 2.6 ulps,
// log 3.8, expm1 1.6 where eager has 0.96, 0.57 and 1.0. Fused results stay within eager's
// error, or within the case's allowance where eager's is less.
TEST(CPUFusion, AccurateFloatMathIsAsAccurateAsEagers) {
  FusionGuard fusion;
  // The opt-in path (see cpu_preamble.h); kernels built with it are cached apart.
  EnvGuard accurate("TORCH_FUSER_CXXFLAGS", "-DTF_ACCURATE_FLOAT_MATH");
  const std::vector<MathCase> cases = {
      {"exp", -104, 90, false},     {"exp2", -152, 130, false},     {"expm1", -20, 20, false},
      {"log", 1e-40, 1e38, true},   {"log2", 1e-40, 1e38, true},    {"log10", 1e-40, 1e38, true},
      {"log1p", 1e-30, 1e30, true}, {"tanh", -12, 12, false, 1.05}, {"sinh", -92, 92, false},
      {"cosh", -92, 92, false},     {"sigmoid", -110, 110, false},  {"silu", -110, 110, false},
      {"expm1", 1e-30, 1, true},    {"tanh", 1e-30, 1, true, 1.05}, {"log1p", -0.9999999, 0, false},
  };
  for (const MathCase& c : cases) {
    SCOPED_TRACE(::testing::Message() << c.op << " on [" << c.lo << ", " << c.hi << "]");
    const std::string ir = irFor(c.op);
    const at::Tensor x = valuesFor(c);
    auto reference = parseIR(ir);
    auto fused = reference->copy();
    fuseGraph(fused);
    ASSERT_EQ(countGroups(*fused), 1u);
    const int64_t launches = getStats().kernel_launches;
    const at::Tensor got = runGraph(fused, {x})[0].toTensor();
    ASSERT_GT(getStats().kernel_launches, launches) << "no kernel ran";
    const at::Tensor eager = runGraph(reference, {x})[0].toTensor();
    const at::Tensor want = runGraph(reference, {x.to(at::kDouble)})[0].toTensor();

    // Eager's own errors, where it gives a number: it overflows some finite results (sinh
    // and cosh of 88.73, log1p of 3e38) and flushes log1p of a subnormal to 0.
    // Both are compared where the exact result is a normal float or zero: eager flushes
    // sigmoid and silu of x < -88.7 to 0 (millions of ulps of a subnormal), which would
    // make any bound vacuous.
    const at::Tensor normal =
        want.abs().ge(std::ldexp(1.0, -126)) | want.eq(0) | want.isnan() | want.isinf();
    const at::Tensor eager_errors = ulpsOf(eager, want).masked_select(normal);
    const double eager_ulps =
        eager_errors.masked_select(eager_errors.isfinite()).max().item<double>();
    const double fused_ulps = ulpsOf(got, want).masked_select(normal).max().item<double>();
    EXPECT_LE(fused_ulps, std::max(eager_ulps, c.allowed))
        << "largest error " << fused_ulps << " ulps, eager's " << eager_ulps;

    // Special values: NaN where eager gives NaN; infinities and signed zeros of the exact
    // result rounded to float.
    const int64_t first_special = x.numel() - 23;
    const at::Tensor rounded = want.to(at::kFloat);
    for (int64_t i = first_special; i < x.numel(); ++i) {
      const float g = got[i].item<float>(), e = eager[i].item<float>(),
                  r = rounded[i].item<float>();
      const float input = x[i].item<float>();
      if (std::isnan(e)) {
        EXPECT_TRUE(std::isnan(g)) << c.op << "(" << input << ") = " << g << ", eager NaN";
      } else if (std::isinf(r) || r == 0.0f) {
        EXPECT_TRUE(g == r && std::signbit(g) == std::signbit(r))
            << c.op << "(" << input << ") = " << g << ", exactly " << r << ", eager " << e;
      }
    }
  }
}

}  // namespace
}  // namespace testing
}  // namespace torch_fuser
