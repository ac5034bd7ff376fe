// float32 exponentials, logarithms, sinh and cosh for CPU kernels, evaluated in double.
// Embedded at build time; printed before cpu_preamble.h, whose TfMath calls them for float
// when kernels build with -DTF_ACCURATE_FLOAT_MATH (TORCH_FUSER_CXXFLAGS; see there why
// that is not the default).
//
// Why: glibc's vector variants (libmvec), which loops calling expf/logf vectorize to, are
// allowed several ulps of error (measured, benchmarks/roofline.py: expf 2.6, logf 3.8), where
// eager's own kernels (Sleef, 1-ulp variants) stay within one. Computed in double, a float
// result has a relative error near 1e-15 before its single rounding to float: within
// half an ulp but for rare ties. Double also covers float's whole range, subnormals
// included, as normal numbers, so there is no special path for them.
//
// Every function is straight-line code so that loops calling it unconditionally vectorize,
// 4 doubles per 256-bit vector (in one arm of a select they do not; cpu_preamble.h); special values
// (NaN, infinities, zeros) are selected at the end, in float lanes. Selects blend bits under a mask
// (tf_select_f32) and clamps work on the bits of |x| (tf_clamp_magnitude) instead of using ?: on
// floating-point values: under -ftrapping-math, which kernels keep, GCC sinks a value used by one
// arm of ?: into a branch and then may not evaluate it unconditionally (it could raise a
// floating-point exception the source does not), so the branch stays and the loop does not
// vectorize.
#include <stdint.h>

#if defined(__FMA__) || defined(__aarch64__)
#define TF_F64_FMA(a, b, c) __builtin_fma((a), (b), (c))
#define TF_F32_FMA(a, b, c) __builtin_fmaf((a), (b), (c))
#else
#define TF_F64_FMA(a, b, c) ((a) * (b) + (c))
#define TF_F32_FMA(a, b, c) ((a) * (b) + (c))
#endif

// The bits of `from` read as a To of the same size.
template <typename To, typename From>
static inline To tf_bit_cast(From from) {
  static_assert(sizeof(To) == sizeof(From), "tf_bit_cast between types of different sizes");
  To to;
  __builtin_memcpy(&to, &from, sizeof(to));
  return to;
}

// c ? a : b, computed from both.
static inline float tf_select_f32(bool c, float a, float b) {
  const uint32_t mask = static_cast<uint32_t>(0) - static_cast<uint32_t>(c);
  return tf_bit_cast<float>((tf_bit_cast<uint32_t>(a) & mask) | (tf_bit_cast<uint32_t>(b) & ~mask));
}

// |x| clamped to at most `limit` (positive, finite), sign kept; NaN gives +-limit
// (callers select NaN at the end). Positive floats order as their bits do.
static inline float tf_clamp_magnitude(float x, float limit) {
  const uint32_t bits = tf_bit_cast<uint32_t>(x);
  const uint32_t magnitude = bits & 0x7fffffffu;
  const uint32_t most = tf_bit_cast<uint32_t>(limit);
  return tf_bit_cast<float>((magnitude < most ? magnitude : most) | (bits & 0x80000000u));
}

// Adding then subtracting 1.5 * 2^52 rounds a double of magnitude < 2^51 to an integer
// (the current rounding mode: nearest); the integer sits in the low bits of the sum.
static const double kTfRoundShifter = 0x1.8p52;

// 2^n for an integer n in [-1022, 1023] held in the low bits of `shifted` (see above).
static inline double tf_pow2_of_shifted(double shifted) {
  return tf_bit_cast<double>((tf_bit_cast<uint64_t>(shifted) + 1023u) << 52);
}

// e^r - 1 for |r| <= ln(2) / 2 + 0.001, as r + r^2 q(r) with q of degree 5 interpolating
// (e^r - 1 - r) / r^2 at Chebyshev nodes (relative error below 6e-10, a hundredth of a
// float ulp; Taylor needs degree 6 for it).
static inline double tf_expm1_reduced(double r) {
  double q = 0x1.a1266f46e2aa0p-13;
  q = TF_F64_FMA(q, r, 0x1.6d44d20228d82p-10);
  q = TF_F64_FMA(q, r, 0x1.1110e0684c4fap-7);
  q = TF_F64_FMA(q, r, 0x1.5554e7cfb8da2p-5);
  q = TF_F64_FMA(q, r, 0x1.5555555a8f139p-3);
  q = TF_F64_FMA(q, r, 0x1.0000000bc3069p-1);
  return TF_F64_FMA(q * r, r, r);
}

// e^x = scale * (1 + m) for |x| <= 104, which covers float (e^104 and e^-104 overflow and
// underflow it): returns m and sets scale = 2^n. Cody and Waite's reduction: n * kLn2Hi is
// exact (kLn2Hi has 32 bits), so r = x - n ln 2 is right to a double ulp.
static inline double tf_exp_parts(double x, double* scale) {
  const double kLn2Hi = 0x1.62e42feep-1;
  const double kLn2Lo = 0x1.a39ef35793c76p-33;
  const double shifted = x * 0x1.71547652b82fep0 + kTfRoundShifter;
  const double n = shifted - kTfRoundShifter;
  const double r = TF_F64_FMA(-n, kLn2Lo, TF_F64_FMA(-n, kLn2Hi, x));
  *scale = tf_pow2_of_shifted(shifted);
  return tf_expm1_reduced(r);
}

static inline float tf_float_exp(float x) {
  double scale;
  const double m = tf_exp_parts(tf_clamp_magnitude(x, 104.0f), &scale);
  const float result = static_cast<float>(TF_F64_FMA(scale, m, scale));
  return tf_select_f32(x != x, x, result);
}

static inline float tf_float_expm1(float x) {
  double scale;
  const double m = tf_exp_parts(tf_clamp_magnitude(x, 104.0f), &scale);
  // For n = 0 (|x| <= ln(2) / 2) scale is 1 and the result is m itself: no cancellation.
  const float result = static_cast<float>(TF_F64_FMA(scale, m, scale - 1.0));
  return tf_select_f32((x != x) | (x == 0.0f), x, result);  // keeps -0 and NaN
}

static inline float tf_float_exp2(float x) {
  const double d = tf_clamp_magnitude(x, 160.0f);
  const double shifted = d + kTfRoundShifter;
  const double n = shifted - kTfRoundShifter;
  const double m = tf_expm1_reduced((d - n) * 0x1.62e42fefa39efp-1);
  const double scale = tf_pow2_of_shifted(shifted);
  const float result = static_cast<float>(TF_F64_FMA(scale, m, scale));
  return tf_select_f32(x != x, x, result);
}

// log(d) for a positive, finite double d: d = 2^e * m with m in [sqrt(1/2), sqrt(2)), and
// log(m) = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.172 (series to s^13: relative error
// near 1e-12).
static inline double tf_log_positive(double d) {
  // Adding the distance from sqrt(1/2)'s bits to 1.0's carries into the exponent exactly
  // when m would reach sqrt(2).
  const uint64_t bits = tf_bit_cast<uint64_t>(d);
  const uint64_t biased_e = (bits + (0x3ff0000000000000u - 0x3fe6a09e667f3bcdu)) >> 52;
  const double m = tf_bit_cast<double>(bits - ((biased_e - 1023u) << 52));
  // biased_e < 2^52: its double is read off the bits (AVX2 has no int64 conversion).
  const double e = tf_bit_cast<double>(biased_e | 0x4330000000000000u) - (0x1p52 + 1023.0);
  const double s = (m - 1.0) / (m + 1.0);
  const double s2 = s * s;
  double p = 2.0 / 13;
  p = TF_F64_FMA(p, s2, 2.0 / 11);
  p = TF_F64_FMA(p, s2, 2.0 / 9);
  p = TF_F64_FMA(p, s2, 2.0 / 7);
  p = TF_F64_FMA(p, s2, 2.0 / 5);
  p = TF_F64_FMA(p, s2, 2.0 / 3);
  const double log_m = TF_F64_FMA(p * s2, s, 2.0 * s);
  return TF_F64_FMA(e, 0x1.62e42fefa39efp-1, log_m);
}

// log's special values, shared by the logarithms: NaN below 0 and for NaN, -inf at
// zeros, +inf at +inf.
static inline float tf_float_log_special(float x, float finite_result) {
  const float inf = __builtin_inff();
  float result = tf_select_f32(x == inf, inf, finite_result);
  result = tf_select_f32(x == 0.0f, -inf, result);
  return tf_select_f32((x < 0.0f) | (x != x), __builtin_nanf(""), result);
}

// The argument log_positive sees for x: x where x is positive and finite, else 1.
static inline double tf_log_argument(float x) {
  return tf_select_f32((x > 0.0f) & (x < __builtin_inff()), x, 1.0f);
}

static inline float tf_float_log(float x) {
  return tf_float_log_special(x, static_cast<float>(tf_log_positive(tf_log_argument(x))));
}

static inline float tf_float_log2(float x) {
  const double l = tf_log_positive(tf_log_argument(x)) * 0x1.71547652b82fep0;
  return tf_float_log_special(x, static_cast<float>(l));
}

static inline float tf_float_log10(float x) {
  const double l = tf_log_positive(tf_log_argument(x)) * 0x1.bcb7b1526e50ep-2;
  return tf_float_log_special(x, static_cast<float>(l));
}

// log(1 + x): u = 1 + x rounds to double; log(1 + x) = log(u) - c / u to well below a
// float ulp, with c = (u - 1) - x the rounding error (exact). Where u is 1 this is x.
static inline float tf_float_log1p(float x) {
  const float inf = __builtin_inff();
  const double d = tf_select_f32((x > -1.0f) & (x < inf), x, 0.0f);
  const double u = 1.0 + d;
  float result = static_cast<float>(tf_log_positive(u) - ((u - 1.0) - d) / u);
  result = tf_select_f32(x == -1.0f, -inf, result);
  result = tf_select_f32(x == inf, inf, result);
  result = tf_select_f32(x < -1.0f, __builtin_nanf(""), result);
  return tf_select_f32((x == 0.0f) | (x != x), x, result);  // keeps -0 and NaN
}

// sinh(|x|) = (u + u / (u + 1)) / 2 with u = e^|x| - 1: no cancellation near 0.
static inline float tf_float_sinh(float x) {
  const double a = __builtin_fabsf(tf_clamp_magnitude(x, 104.0f));
  double scale;
  const double m = tf_exp_parts(a, &scale);
  const double u = TF_F64_FMA(scale, m, scale - 1.0);
  const float result = __builtin_copysignf(static_cast<float>(0.5 * (u + u / (u + 1.0))), x);
  return tf_select_f32((x != x) | (x == 0.0f), x, result);  // keeps -0 and NaN
}

static inline float tf_float_cosh(float x) {
  const double a = __builtin_fabsf(tf_clamp_magnitude(x, 104.0f));
  double scale;
  const double m = tf_exp_parts(a, &scale);
  const double e = TF_F64_FMA(scale, m, scale);
  const float result = static_cast<float>(0.5 * (e + 1.0 / e));
  return tf_select_f32(x != x, x, result);
}

// e^x in float lanes (8 per 256-bit vector, twice tf_float_exp's), within 1.06 ulps: for
// uses whose own roundings outweigh that (sigmoid and silu's 1 / (1 + e^-x): eager's sigmoid
// is 2.5 ulps off at worst) and for 16-bit results. Cody and Waite's reduction with n * kLn2Hi
// exact (kLn2Hi has 16 bits), Taylor to degree 7 (relative error 5e-9), and 2^n applied in
// two steps so that subnormal results round once.
static inline float tf_float_exp_lanes(float x) {
  const float kLn2Hi = 0x1.62e4p-1f;
  const float kLn2Lo = 0x1.7f7d1cp-20f;
  const float kShifter = 0x1.8p23f;
  const float xc = tf_clamp_magnitude(x, 104.0f);
  const float shifted = xc * 0x1.715476p0f + kShifter;
  const float n = shifted - kShifter;
  const float r = TF_F32_FMA(-n, kLn2Lo, TF_F32_FMA(-n, kLn2Hi, xc));
  float q = 1.0f / 5040;
  q = TF_F32_FMA(q, r, 1.0f / 720);
  q = TF_F32_FMA(q, r, 1.0f / 120);
  q = TF_F32_FMA(q, r, 1.0f / 24);
  q = TF_F32_FMA(q, r, 1.0f / 6);
  q = TF_F32_FMA(q, r, 0.5f);
  const float m = TF_F32_FMA(r * r, q, r);  // e^r - 1
  // n in [-151, 151] sits in the low bits of `shifted`; halves of it are valid exponents.
  const int32_t ni =
      static_cast<int32_t>(tf_bit_cast<uint32_t>(shifted) - tf_bit_cast<uint32_t>(kShifter));
  const int32_t half = ni >> 1;
  const float s1 = tf_bit_cast<float>(static_cast<uint32_t>(half + 127) << 23);
  const float s2 = tf_bit_cast<float>(static_cast<uint32_t>(ni - half + 127) << 23);
  const float result = TF_F32_FMA(s1, m, s1) * s2;
  return tf_select_f32(x != x, x, result);
}

#undef TF_F64_FMA
#undef TF_F32_FMA
