// Math helpers shared by every kernel flavour. Embedded at build time and printed into
// each generated kernel after the flavour preamble, which must define:
//   TF_INLINE            the qualifiers of a helper (host inline / __device__ inline)
//   TfMath, TfFastMath   math policies: the <cmath> functions the ops use (exp … lgamma,
//                        ceil/floor/nearbyint/trunc, pow, atan2, fmod, copysign) and div,
//                        for float and double. TfMath is accurate (as eager); TfFastMath may
//                        approximate float math within a few float ulp — used only where
//                        the result is rounded to float16/bfloat16, far coarser.
//   tf_infinity(), tf_nan()
//   tf_half, tf_bfloat16 (2-byte storage types) with tf_half_to_float,
//   tf_float_to_half, tf_bfloat16_to_float, tf_float_to_bfloat16 (round to nearest even)
//   tf_float_to_integer<To>(double)  truncation toward zero; NaN and out-of-range values
//                        give what eager's conversion gives on that device
// Semantics follow eager PyTorch: NaN propagates through maximum/minimum/relu/clamp.

// Conversions. Reduced-precision floats convert through float, as c10::Half and
// c10::BFloat16 do.
template <typename To, typename From>
struct TfCast {
  static TF_INLINE To apply(From x) { return static_cast<To>(x); }
};
template <typename To>
struct TfCast<To, tf_half> {
  static TF_INLINE To apply(tf_half x) { return TfCast<To, float>::apply(tf_half_to_float(x)); }
};
template <typename From>
struct TfCast<tf_half, From> {
  static TF_INLINE tf_half apply(From x) { return tf_float_to_half(static_cast<float>(x)); }
};
template <>
struct TfCast<bool, tf_half> {
  static TF_INLINE bool apply(tf_half x) { return tf_half_to_float(x) != 0.0f; }
};
template <>
struct TfCast<tf_half, tf_half> {
  static TF_INLINE tf_half apply(tf_half x) { return x; }
};
template <typename To>
struct TfCast<To, tf_bfloat16> {
  static TF_INLINE To apply(tf_bfloat16 x) {
    return TfCast<To, float>::apply(tf_bfloat16_to_float(x));
  }
};
template <>
struct TfCast<bool, tf_bfloat16> {
  static TF_INLINE bool apply(tf_bfloat16 x) { return tf_bfloat16_to_float(x) != 0.0f; }
};
template <typename From>
struct TfCast<tf_bfloat16, From> {
  static TF_INLINE tf_bfloat16 apply(From x) { return tf_float_to_bfloat16(static_cast<float>(x)); }
};
template <>
struct TfCast<tf_bfloat16, tf_bfloat16> {
  static TF_INLINE tf_bfloat16 apply(tf_bfloat16 x) { return x; }
};
template <>
struct TfCast<tf_half, tf_bfloat16> {
  static TF_INLINE tf_half apply(tf_bfloat16 x) {
    return tf_float_to_half(tf_bfloat16_to_float(x));
  }
};
template <>
struct TfCast<tf_bfloat16, tf_half> {
  static TF_INLINE tf_bfloat16 apply(tf_half x) {
    return tf_float_to_bfloat16(tf_half_to_float(x));
  }
};

// Floating point to integer: C++'s conversion is undefined out of range, eager's is
// whatever its device does; the flavour preamble spells that out.
#define TF_FLOAT_TO_INTEGER(To)                                                \
  template <>                                                                  \
  struct TfCast<To, float> {                                                   \
    static TF_INLINE To apply(float x) { return tf_float_to_integer<To>(x); }  \
  };                                                                           \
  template <>                                                                  \
  struct TfCast<To, double> {                                                  \
    static TF_INLINE To apply(double x) { return tf_float_to_integer<To>(x); } \
  };
TF_FLOAT_TO_INTEGER(uint8_t)
TF_FLOAT_TO_INTEGER(int8_t)
TF_FLOAT_TO_INTEGER(int16_t)
TF_FLOAT_TO_INTEGER(int32_t)
TF_FLOAT_TO_INTEGER(int64_t)
#undef TF_FLOAT_TO_INTEGER

template <typename To, typename From>
TF_INLINE To tf_cast(From x) {
  return TfCast<To, From>::apply(x);
}

// Arithmetic wraps on integer overflow, as eager's does. Signed overflow is undefined in
// C++, so 32- and 64-bit integers compute in their unsigned twins; narrower integers
// compute in int and wrap when converted back (int8 on CUDA: see cuda_preamble.h).
template <typename T>
TF_INLINE T tf_add(T a, T b) {
  return a + b;
}
template <typename T>
TF_INLINE T tf_sub(T a, T b) {
  return a - b;
}
template <typename T>
TF_INLINE T tf_mul(T a, T b) {
  return a * b;
}
template <typename T>
TF_INLINE T tf_neg(T a) {
  return -a;
}
#define TF_WRAPPING_ARITHMETIC(T, U)                              \
  TF_INLINE T tf_add(T a, T b) {                                  \
    return static_cast<T>(static_cast<U>(a) + static_cast<U>(b)); \
  }                                                               \
  TF_INLINE T tf_sub(T a, T b) {                                  \
    return static_cast<T>(static_cast<U>(a) - static_cast<U>(b)); \
  }                                                               \
  TF_INLINE T tf_mul(T a, T b) {                                  \
    return static_cast<T>(static_cast<U>(a) * static_cast<U>(b)); \
  }                                                               \
  TF_INLINE T tf_neg(T a) {                                       \
    return static_cast<T>(U(0) - static_cast<U>(a));              \
  }
TF_WRAPPING_ARITHMETIC(int32_t, uint32_t)
TF_WRAPPING_ARITHMETIC(int64_t, uint64_t)
#undef TF_WRAPPING_ARITHMETIC

template <typename M, typename T>
TF_INLINE T tf_abs(T x) {
  return x < T(0) ? tf_neg(x) : x;  // the most negative integer stays itself, as in eager
}
template <typename M>
TF_INLINE float tf_abs(float x) {
  return M::fabs(x);
}
template <typename M>
TF_INLINE double tf_abs(double x) {
  return M::fabs(x);
}

template <typename T>
TF_INLINE T tf_bitwise_not(T x) {
  return static_cast<T>(~x);
}
TF_INLINE bool tf_bitwise_not(bool x) {
  return !x;
}

// Shifts with eager's definition for every count (torch >= 2.1; older eager leaves
// counts outside [0, 32) and [0, bits) to the hardware): shifting left by a count outside
// [0, bits) gives 0, shifting right by one outside [0, bits) (signed: bits - 1) keeps
// only the sign. Left shifts wrap (through the unsigned type: no signed overflow).
#define TF_SHIFTS(T, U, SIGNED)                                                                    \
  TF_INLINE T tf_left_shift(T a, T b) {                                                            \
    return (SIGNED && b < T(0)) || b >= T(sizeof(T) * 8) ? T(0)                                    \
                                                         : static_cast<T>(static_cast<U>(a) << b); \
  }                                                                                                \
  TF_INLINE T tf_right_shift(T a, T b) {                                                           \
    const T most = T(sizeof(T) * 8 - SIGNED);                                                      \
    return static_cast<T>(a >> ((SIGNED && b < T(0)) || b >= most ? most : b));                    \
  }
TF_SHIFTS(uint8_t, uint8_t, 0)
TF_SHIFTS(int8_t, uint8_t, 1)
TF_SHIFTS(int16_t, uint16_t, 1)
TF_SHIFTS(int32_t, uint32_t, 1)
TF_SHIFTS(int64_t, uint64_t, 1)
#undef TF_SHIFTS

// Integer division and modulo as eager computes them. Lowering guarantees a non-zero
// divisor (eager raises on zero); a divisor of -1 is taken apart because the most
// negative value divided by it overflows (and traps on x86).
template <typename T>
TF_INLINE bool tf_is_minus_one(T b) {
  return b < T(0) && b == T(-1);
}
template <typename T>
TF_INLINE T tf_idiv_trunc(T a, T b) {
  return tf_is_minus_one(b) ? tf_neg(a) : static_cast<T>(a / b);
}
template <typename T>
TF_INLINE T tf_idiv_floor(T a, T b) {
  if (tf_is_minus_one(b)) return tf_neg(a);
  const T quotient = static_cast<T>(a / b);
  const T rest = static_cast<T>(a % b);
  return (rest != T(0) && ((rest < T(0)) != (b < T(0)))) ? static_cast<T>(quotient - 1) : quotient;
}
template <typename T>
TF_INLINE T tf_ifmod(T a, T b) {
  return tf_is_minus_one(b) ? T(0) : static_cast<T>(a % b);
}
template <typename T>
TF_INLINE T tf_iremainder(T a, T b) {
  const T rest = tf_ifmod(a, b);
  return (rest != T(0) && ((rest < T(0)) != (b < T(0)))) ? static_cast<T>(rest + b) : rest;
}

// Integer powers by squaring, wrapping; negative exponents as eager's integer pow:
// 1 and -1 keep their magnitude, every other base gives 0.
template <typename T>
TF_INLINE T tf_ipow(T base, T exponent) {
  if (exponent < T(0)) {
    if (base == T(1)) return T(1);
    if (tf_is_minus_one(base)) return (exponent & 1) ? base : T(1);
    return T(0);
  }
  T result = T(1);
  while (exponent != T(0)) {
    if (exponent & 1) result = tf_mul(result, base);
    exponent = static_cast<T>(exponent >> 1);
    base = tf_mul(base, base);
  }
  return result;
}

// a + alpha * b, eager's add and sub with alpha (sub passes -alpha). Its float kernels
// round once: the vectorized CPU loops call an FMA, and nvcc contracts the CUDA ones
// (M::fma says how each flavour does it). Integers wrap.
template <typename M, typename T>
TF_INLINE T tf_add_scaled(T a, T b, T alpha) {
  return tf_add(a, tf_mul(b, alpha));
}
template <typename M>
TF_INLINE float tf_add_scaled(float a, float b, float alpha) {
  return M::fma(b, alpha, a);
}
template <typename M>
TF_INLINE double tf_add_scaled(double a, double b, double alpha) {
  return M::fma(b, alpha, a);
}

template <typename M, typename T>
TF_INLINE T tf_reciprocal(T x) {
  return M::div(T(1), x);
}

template <typename M, typename T>
TF_INLINE T tf_rsqrt(T x) {
  return M::div(T(1), M::sqrt(x));
}

// e^x that only enters 1 / (1 + e^x)-style ratios (sigmoid, silu), where the ratio's own
// two roundings come on top of it and eager's result is 2.5 ulps off at worst: a flavour
// may overload it (for its TfMath) with a faster exp of up to about an ulp.
template <typename M, typename T>
TF_INLINE T tf_ratio_exp(M, T x) {
  return M::exp(x);
}

template <typename M, typename T>
TF_INLINE T tf_sigmoid(T x) {
  return M::div(T(1), T(1) + tf_ratio_exp(M(), -x));
}

// Ties keep the first operand: relu and clamp pass x itself when it equals the bound,
// so relu(-0.0) is -0.0, as in eager on the CPU. (Eager's CPU maximum/minimum of two
// tensors return the second operand on a +-0 tie in their vector loop and the first in
// the tail; the first is the one rule that holds everywhere for clamp.) The CUDA preamble
// overrides both for float and double with eager's GPU rule.
template <typename T>
TF_INLINE T tf_maximum(T a, T b) {
  if (a != a) return a;
  if (b != b) return b;
  return a < b ? b : a;
}

template <typename T>
TF_INLINE T tf_minimum(T a, T b) {
  if (a != a) return a;
  if (b != b) return b;
  return b < a ? b : a;
}

template <typename T>
TF_INLINE T tf_relu(T x) {
  return tf_maximum(x, T(0));
}

// x ** e for a scalar exponent, with eager's special cases (they differ from pow() in
// rounding and for -0, -inf: sqrt(-inf) is NaN where pow(-inf, 0.5) is inf).
template <typename M, typename T>
TF_INLINE T tf_pow_scalar(T x, double e) {
  if (e == 0.0) return T(1);
  if (e == 1.0) return x;
  if (e == 2.0) return x * x;
  if (e == 3.0) return x * x * x;
  if (e == 0.5) return M::sqrt(x);
  if (e == -0.5) return M::div(T(1), M::sqrt(x));
  if (e == -1.0) return M::div(T(1), x);
  if (e == -2.0) return M::div(T(1), x * x);
  return M::pow(x, static_cast<T>(e));
}

template <typename M, typename T>
TF_INLINE T tf_frac(T x) {
  return x - M::trunc(x);
}

// As eager: 0 for NaN and for both zeros.
template <typename T>
TF_INLINE T tf_sign(T x) {
  return static_cast<T>((T(0) < x) - (x < T(0)));
}

// Python's modulo: the result takes the divisor's sign.
template <typename M, typename T>
TF_INLINE T tf_remainder(T a, T b) {
  T mod = M::fmod(a, b);
  if (mod != T(0) && ((b < T(0)) != (mod < T(0)))) mod += b;
  return mod;
}

// Floor division as eager computes it for floating point (exact for representable
// quotients, signed zeros kept).
template <typename M, typename T>
TF_INLINE T tf_div_floor(T a, T b) {
  if (b == T(0)) return a / b;
  const T mod = M::fmod(a, b);
  T div = (a - mod) / b;
  if (mod != T(0) && ((b < T(0)) != (mod < T(0)))) div -= T(1);
  if (div == T(0)) return M::copysign(T(0), a / b);
  T floordiv = M::floor(div);
  if (div - floordiv > T(0.5)) floordiv += T(1);
  return floordiv;
}

template <typename M, typename T>
TF_INLINE T tf_silu(T x) {
  return M::div(x, T(1) + tf_ratio_exp(M(), -x));
}

// v / 6 as eager's hard activations compute it: its CUDA kernels multiply by 1/6 rounded
// to float in every dtype, double too (the flavour defines TF_SIXTH_IN_FLOAT); its CPU
// kernels divide.
template <typename T>
TF_INLINE T tf_sixth_of(T v) {
#if defined(TF_SIXTH_IN_FLOAT)
  return v * T(1.0f / 6.0f);
#else
  return v / T(6);
#endif
}

template <typename T>
TF_INLINE T tf_hardsigmoid(T x) {
  return tf_sixth_of(tf_minimum(tf_maximum(x + T(3), T(0)), T(6)));
}

template <typename T>
TF_INLINE T tf_hardswish(T x) {
  return tf_sixth_of(x * tf_minimum(tf_maximum(x + T(3), T(0)), T(6)));
}

template <typename T>
TF_INLINE T tf_hardtanh(T x, T lo, T hi) {
  return tf_minimum(tf_maximum(x, lo), hi);
}

template <typename T>
TF_INLINE T tf_leaky_relu(T x, T slope) {
  return x > T(0) ? x : x * slope;
}

template <typename M, typename T>
TF_INLINE T tf_elu(T x, T alpha, T scale, T input_scale) {
  return x <= T(0) ? M::expm1(x * input_scale) * (alpha * scale) : x * scale;
}

template <typename M, typename T>
TF_INLINE T tf_softplus(T x, T beta, T threshold) {
  return x * beta > threshold ? x : M::div(M::log1p(M::exp(x * beta)), beta);
}

template <typename M, typename T>
TF_INLINE T tf_mish(T x) {
  return x * M::tanh(M::log1p(M::exp(x)));
}

template <typename M, typename T>
TF_INLINE T tf_gelu_erf(T x) {
  return x * T(0.5) * (T(1) + M::erf(x * T(0.70710678118654752440)));
}

template <typename M, typename T>
TF_INLINE T tf_gelu_tanh(T x) {
  const T beta = T(0.79788456080286535588);  // sqrt(2 / pi)
  const T inner = beta * (x + T(0.044715) * x * x * x);
  return T(0.5) * x * (T(1) + M::tanh(inner));
}

// d gelu(x) / dx * dy for gelu's erf form: Phi(x) + x * phi(x), the normal distribution's
// CDF and density.
template <typename M, typename T>
TF_INLINE T tf_gelu_backward_erf(T dy, T x) {
  const T cdf = T(0.5) * (T(1) + M::erf(x * T(0.70710678118654752440)));
  const T pdf = T(0.39894228040143267794) * M::exp(T(-0.5) * x * x);  // 1 / sqrt(2 pi)
  return dy * (cdf + x * pdf);
}

// The same for the tanh form: with u = beta * (x + k x^3) and t = tanh(u),
// d/dx [x (1 + t) / 2] = (1 + t) / 2 + x / 2 * (1 - t^2) * beta * (1 + 3 k x^2).
template <typename M, typename T>
TF_INLINE T tf_gelu_backward_tanh(T dy, T x) {
  const T beta = T(0.79788456080286535588);  // sqrt(2 / pi)
  const T kappa = T(0.044715);
  const T x_sq = x * x;
  const T t = M::tanh(beta * (x + kappa * (x_sq * x)));
  const T du_dx = beta * (T(1) + T(3) * kappa * x_sq);
  return dy * (T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * du_dx);
}

template <typename T>
TF_INLINE T tf_threshold(T x, T threshold, T value) {
  return x <= threshold ? value : x;
}

template <typename M, typename T>
TF_INLINE T tf_lerp(T start, T end, T weight) {
  const T diff = end - start;
  return M::fabs(weight) < T(0.5) ? start + weight * diff : end - diff * (T(1) - weight);
}
