// The CPU flavour's preamble: what common_preamble.h needs, from the C++ standard library.
// Embedded at build time; printed after kernel_abi.h and before common_preamble.h.
// glibc declares the SIMD variants of its math functions (libmvec: expf, tanhf, logf …
// on 4/8/16 lanes) only when __FAST_MATH__ is defined. Defining the macro for the include
// — without -ffast-math, so IEEE semantics, NaN and Inf handling stay — lets the
// compiler vectorize loops that call them. Kernels link with -lmvec.
#if defined(__x86_64__) && !defined(__FAST_MATH__)
#define __FAST_MATH__ 1
#define TF_UNDEF_FAST_MATH 1
#endif
#include <math.h>
#include <cmath>
#if defined(TF_UNDEF_FAST_MATH)
#undef __FAST_MATH__
#undef TF_UNDEF_FAST_MATH
#endif
#include <cstdint>
#include <limits>

#define TF_INLINE inline

// -fno-math-errno (which loops need to vectorize math calls) also lets GCC rewrite
// sin(atan(x)) and cos(atan(x)) algebraically, turning NaN into 1 and 0. atan is therefore
// called through names the compiler does not know as builtins, so nothing is folded into
// it; the declared libmvec variants (glibc >= 2.35) keep it vectorized.
#if defined(__GLIBC__) && defined(__x86_64__) && \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
#define TF_LIBM_VECTOR __attribute__((simd("notinbranch")))
#else
#define TF_LIBM_VECTOR
#endif
extern "C" float tf_libm_atanf(float) __asm__("atanf")
    __attribute__((const, nothrow)) TF_LIBM_VECTOR;
extern "C" double tf_libm_atan(double) __asm__("atan")
    __attribute__((const, nothrow)) TF_LIBM_VECTOR;
#undef TF_LIBM_VECTOR

#define TF_MATH_1(name)       \
  template <typename T>       \
  static inline T name(T x) { \
    return std::name(x);      \
  }
#define TF_MATH_2(name)            \
  template <typename T>            \
  static inline T name(T x, T y) { \
    return std::name(x, y);        \
  }
struct TfMath {
  TF_FORALL_UNARY_MATH(TF_MATH_1)
  TF_FORALL_BINARY_MATH(TF_MATH_2)
  // Preferred to the template above (see tf_libm_atan).
  static inline float atan(float x) { return tf_libm_atanf(x); }
  static inline double atan(double x) { return tf_libm_atan(x); }
#if defined(TF_ACCURATE_FLOAT_MATH)
  // TORCH_FUSER_CXXFLAGS=-DTF_ACCURATE_FLOAT_MATH: float32 exponentials and logarithms
  // evaluated in double (cpu_float_math.h), within eager's error, which libmvec's are not
  // (up to 3.8 ulps). Not the default: inlined straight-line code is not if-converted
  // under -ftrapping-math, so a loop using it in one arm of a select (elu, softplus,
  // where, maximum) stops vectorizing (softplus 2.3 -> 35 ns per element), where libmvec
  // calls vectorize as masked calls. tanh stays libmvec's either way (1.03 ulps): in double
  // it ran at half the speed, and fused LSTM cells fell behind eager's AVX-512 kernels on
  // a 16-core host (benchmarks/reports/*roofline*).
  // clang-format off
  static inline float exp(float x) { return tf_float_exp(x); }
  static inline float exp2(float x) { return tf_float_exp2(x); }
  static inline float expm1(float x) { return tf_float_expm1(x); }
  static inline float log(float x) { return tf_float_log(x); }
  static inline float log2(float x) { return tf_float_log2(x); }
  static inline float log10(float x) { return tf_float_log10(x); }
  static inline float log1p(float x) { return tf_float_log1p(x); }
  static inline float sinh(float x) { return tf_float_sinh(x); }
  static inline float cosh(float x) { return tf_float_cosh(x); }
  // clang-format on
#endif
  template <typename T>
  static inline T div(T x, T y) {
    return x / y;
  }
  template <typename T>
  static inline T fabs(T x) {
    return std::fabs(x);
  }
  // Eager's vectorized loops use an FMA where the CPU has one (its AVX2 and AVX-512
  // builds require it) and round twice where it has not.
  template <typename T>
  static inline T fma(T x, T y, T z) {
#if defined(__FMA__)
    return std::fma(x, y, z);
#else
    return x * y + z;
#endif
  }
};
#undef TF_MATH_1
#undef TF_MATH_2
// 16-bit results (with TF_ACCURATE_FLOAT_MATH): exp in float lanes (its ulp vanishes in
// the 16-bit rounding); the rest as TfMath.
struct TfFastMath : TfMath {
  using TfMath::exp;
#if defined(TF_ACCURATE_FLOAT_MATH)
  static inline float exp(float x) {
    return tf_float_exp_lanes(x);
  }
#endif
};

#if defined(TF_ACCURATE_FLOAT_MATH)
// See common_preamble.h: with TF_ACCURATE_FLOAT_MATH, sigmoid and silu take exp in float
// lanes (twice as many per vector as the double path, 1.06 ulps).
static inline float tf_ratio_exp(TfMath, float x) {
  return tf_float_exp_lanes(x);
}
#endif

static inline double tf_infinity() {
  return std::numeric_limits<double>::infinity();
}
static inline double tf_nan() {
  return std::numeric_limits<double>::quiet_NaN();
}

// x86's truncating conversions (what eager's static_cast compiles to) give the minimum
// value for NaN and out-of-range inputs; narrower integers convert through int32.
template <typename To>
static inline To tf_float_to_integer(double x) {
  if (sizeof(To) == 8) {
    const bool fits = x >= -9223372036854775808.0 && x < 9223372036854775808.0;
    return static_cast<To>(fits ? static_cast<int64_t>(x) : INT64_MIN);
  }
  const bool fits = x > -2147483649.0 && x < 2147483648.0;
  return static_cast<To>(fits ? static_cast<int32_t>(x) : INT32_MIN);
}

// float16: the compiler's IEEE binary16 (_Float16: GCC >= 12, Clang), whose conversions
// round to nearest even as c10::Half does, and vectorize (F16C / AVX-512 FP16).
typedef _Float16 tf_half;
static inline float tf_half_to_float(tf_half x) {
  return static_cast<float>(x);
}
static inline tf_half tf_float_to_half(float x) {
  return static_cast<tf_half>(x);
}

// bfloat16: the upper half of a float's bits.
struct tf_bfloat16 {
  uint16_t bits;
};
static inline float tf_bfloat16_to_float(tf_bfloat16 x) {
  const uint32_t bits = static_cast<uint32_t>(x.bits) << 16;
  float out;
  __builtin_memcpy(&out, &bits, sizeof(out));
  return out;
}
static inline tf_bfloat16 tf_float_to_bfloat16(float x) {
  uint32_t bits;
  __builtin_memcpy(&bits, &x, sizeof(bits));
  if (x != x) return tf_bfloat16{0x7fc0};  // quiet NaN, as c10::BFloat16
  bits += 0x7fffu + ((bits >> 16) & 1u);   // round to nearest even
  return tf_bfloat16{static_cast<uint16_t>(bits >> 16)};
}
