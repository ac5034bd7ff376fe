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
// Semantics follow eager PyTorch: NaN propagates through maximum/minimum/relu/clamp.

// Conversions. Reduced-precision floats convert through float, as c10::Half and
// c10::BFloat16 do.
template <typename To, typename From>
struct TfCast {
  static TF_INLINE To apply(From x) { return static_cast<To>(x); }
};
template <typename To>
struct TfCast<To, tf_half> {
  static TF_INLINE To apply(tf_half x) { return static_cast<To>(tf_half_to_float(x)); }
};
template <typename From>
struct TfCast<tf_half, From> {
  static TF_INLINE tf_half apply(From x) { return tf_float_to_half(static_cast<float>(x)); }
};
template <>
struct TfCast<tf_half, tf_half> {
  static TF_INLINE tf_half apply(tf_half x) { return x; }
};
template <typename To>
struct TfCast<To, tf_bfloat16> {
  static TF_INLINE To apply(tf_bfloat16 x) { return static_cast<To>(tf_bfloat16_to_float(x)); }
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

template <typename To, typename From>
TF_INLINE To tf_cast(From x) {
  return TfCast<To, From>::apply(x);
}

template <typename M, typename T>
TF_INLINE T tf_reciprocal(T x) {
  return M::div(T(1), x);
}

template <typename M, typename T>
TF_INLINE T tf_rsqrt(T x) {
  return M::div(T(1), M::sqrt(x));
}

template <typename M, typename T>
TF_INLINE T tf_sigmoid(T x) {
  return M::div(T(1), T(1) + M::exp(-x));
}

template <typename T>
TF_INLINE T tf_maximum(T a, T b) {
  if (a != a) return a;
  if (b != b) return b;
  return a > b ? a : b;
}

template <typename T>
TF_INLINE T tf_minimum(T a, T b) {
  if (a != a) return a;
  if (b != b) return b;
  return a < b ? a : b;
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
  return M::div(x, T(1) + M::exp(-x));
}

template <typename T>
TF_INLINE T tf_hardsigmoid(T x) {
  return tf_minimum(tf_maximum(x + T(3), T(0)), T(6)) / T(6);
}

template <typename T>
TF_INLINE T tf_hardswish(T x) {
  return x * tf_minimum(tf_maximum(x + T(3), T(0)), T(6)) / T(6);
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

template <typename T>
TF_INLINE T tf_threshold(T x, T threshold, T value) {
  return x <= threshold ? value : x;
}

template <typename M, typename T>
TF_INLINE T tf_lerp(T start, T end, T weight) {
  const T diff = end - start;
  return M::fabs(weight) < T(0.5) ? start + weight * diff : end - diff * (T(1) - weight);
}
