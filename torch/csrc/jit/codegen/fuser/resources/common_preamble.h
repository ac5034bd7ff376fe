// Math helpers shared by every kernel flavour. Embedded at build time and printed into
// each generated kernel after the flavour preamble, which must define:
//   TF_INLINE            the qualifiers of a helper (host inline / __device__ inline)
//   namespace tf_math    exp, log, tanh, sqrt, pow, fabs for float and double
//   tf_infinity(), tf_nan()
// Semantics follow eager PyTorch: NaN propagates through maximum/minimum/relu/clamp.

template <typename To, typename From>
TF_INLINE To tf_cast(From x) {
  return static_cast<To>(x);
}

template <typename T>
TF_INLINE T tf_abs(T x) {
  return tf_math::fabs(x);
}

template <typename T>
TF_INLINE T tf_reciprocal(T x) {
  return T(1) / x;
}

template <typename T>
TF_INLINE T tf_rsqrt(T x) {
  return T(1) / tf_math::sqrt(x);
}

template <typename T>
TF_INLINE T tf_sigmoid(T x) {
  return T(1) / (T(1) + tf_math::exp(-x));
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
template <typename T>
TF_INLINE T tf_pow_scalar(T x, double e) {
  if (e == 0.0) return T(1);
  if (e == 1.0) return x;
  if (e == 2.0) return x * x;
  if (e == 3.0) return x * x * x;
  if (e == 0.5) return tf_math::sqrt(x);
  if (e == -0.5) return T(1) / tf_math::sqrt(x);
  if (e == -1.0) return T(1) / x;
  if (e == -2.0) return T(1) / (x * x);
  return tf_math::pow(x, static_cast<T>(e));
}
