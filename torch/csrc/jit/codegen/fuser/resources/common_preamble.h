// Math helpers shared by every kernel flavour. Embedded at build time and printed into
// each generated kernel after the flavour preamble, which must define:
//   TF_INLINE            the qualifiers of a helper (host inline / __device__ inline)
//   TfMath, TfFastMath   math policies: static exp, log, tanh, sqrt, pow, fabs, div for
//                        float and double. TfMath is accurate (as eager); TfFastMath may
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
