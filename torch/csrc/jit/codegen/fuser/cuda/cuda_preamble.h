// The CUDA flavour's preamble, for NVRTC (no standard headers): what
// common_preamble.h needs, plus the vector type of the 128-bit fast path.
// Embedded at build time; printed before common_preamble.h.
typedef signed char int8_t;
typedef short int16_t;
typedef int int32_t;
typedef long long int64_t;
typedef unsigned char uint8_t;
typedef unsigned short uint16_t;
typedef unsigned int uint32_t;
typedef unsigned long long uint64_t;
typedef unsigned long long uintptr_t;
#define INT64_C(c) c##LL

#define TF_INLINE __device__ __forceinline__
// Eager's CUDA hardsigmoid/hardswish scale by 1/6 rounded to float (see tf_sixth_of).
#define TF_SIXTH_IN_FLOAT 1

// Eager's CUDA kernels convert with static_cast, which saturates on the GPU (NaN gives 0).
template <typename To>
TF_INLINE To tf_float_to_integer(float x) {
  return static_cast<To>(x);
}
template <typename To>
TF_INLINE To tf_float_to_integer(double x) {
  return static_cast<To>(x);
}

// int8 arithmetic wraps through an explicit sign extension. NVRTC 13.0 drops the one
// implied by narrowing int back to int8 for some lanes unpacked from a 16-byte vector
// load: (x + 1).clamp(0, 5) gave 5 for x = 127 where eager gives 0 (found by the
// fuzzer; GPUFusion.IntegerOverflowWrapsAsEagerInEveryLoop). An asm result is opaque
// to the optimizer, so every later use extends it again.
TF_INLINE int8_t tf_wrap_int8(int x) {
  int extended;
  asm("cvt.s32.s8 %0, %1;" : "=r"(extended) : "r"(x));
  return static_cast<int8_t>(extended);
}
TF_INLINE int8_t tf_add(int8_t a, int8_t b) {
  return tf_wrap_int8(int(a) + int(b));
}
TF_INLINE int8_t tf_sub(int8_t a, int8_t b) {
  return tf_wrap_int8(int(a) - int(b));
}
TF_INLINE int8_t tf_mul(int8_t a, int8_t b) {
  return tf_wrap_int8(int(a) * int(b));
}
TF_INLINE int8_t tf_neg(int8_t a) {
  return tf_wrap_int8(-int(a));
}

// int64 abs without abs.s64: ptxas 13.0 (sm_90) derives a wrong value range for it when
// its operand's range spans zero, and folded clamp(-|x % 6|, -3, 9) to -3 for x = -1
// (fuzz seed 1302795). The shift/xor/subtract form is left alone. int32 is not affected.
template <typename M>
TF_INLINE int64_t tf_abs(int64_t x) {
  int64_t magnitude;
  asm("{\n\t.reg .s64 sign, flipped;\n\tshr.s64 sign, %1, 63;\n\txor.b64 flipped, %1, sign;"
      "\n\tsub.s64 %0, flipped, sign;\n\t}"
      : "=l"(magnitude)
      : "l"(x));
  return magnitude;
}

// Eager's CUDA max and min (maximum, clamp, relu, hardtanh) end in fmax/fmin once a NaN
// operand is ruled out, and those order -0 below +0: relu(-0.0) is +0.0 on the GPU, where
// the CPU keeps -0.0 (fuzz seed 1331707: rsqrt(relu(-0.0) / -1.5) gave +inf, eager -inf).
// Exact-type overloads win over common_preamble.h's templates, which keep the CPU's rule.
TF_INLINE float tf_maximum(float a, float b) {
  if (a != a) return a;
  if (b != b) return b;
  return fmaxf(a, b);
}
TF_INLINE double tf_maximum(double a, double b) {
  if (a != a) return a;
  if (b != b) return b;
  return fmax(a, b);
}
TF_INLINE float tf_minimum(float a, float b) {
  if (a != a) return a;
  if (b != b) return b;
  return fminf(a, b);
}
TF_INLINE double tf_minimum(double a, double b) {
  if (a != a) return a;
  if (b != b) return b;
  return fmin(a, b);
}

// Accurate math, as eager's CUDA kernels use.
#define TF_MATH_1(name)                    \
  static TF_INLINE float name(float x) {   \
    return ::name##f(x);                   \
  }                                        \
  static TF_INLINE double name(double x) { \
    return ::name(x);                      \
  }
#define TF_MATH_2(name)                              \
  static TF_INLINE float name(float x, float y) {    \
    return ::name##f(x, y);                          \
  }                                                  \
  static TF_INLINE double name(double x, double y) { \
    return ::name(x, y);                             \
  }
struct TfMath {
  TF_FORALL_UNARY_MATH(TF_MATH_1)
  TF_FORALL_BINARY_MATH(TF_MATH_2)
  template <typename T>
  static TF_INLINE T div(T x, T y) {
    return x / y;
  }
  // |x| by clearing the sign bit: ptxas 13.0 (sm_90) takes fabs(x) >= 0, fabs(x) > -1 and
  // -fabs(x) <= 0 to hold for NaN too and drops the comparison (fuzz seed 1338458:
  // where(|m| >= 0, |m|, -1.5) returned NaN). An integer AND in asm (which NVVM cannot
  // turn back into fabs) it does not see through.
  static TF_INLINE float fabs(float x) {
    float magnitude;
    asm("{\n\t.reg .b32 bits;\n\tmov.b32 bits, %1;\n\tand.b32 bits, bits, 0x7fffffff;"
        "\n\tmov.b32 %0, bits;\n\t}"
        : "=f"(magnitude)
        : "f"(x));
    return magnitude;
  }
  static TF_INLINE double fabs(double x) {
    double magnitude;
    asm("{\n\t.reg .b64 bits;\n\tmov.b64 bits, %1;\n\tand.b64 bits, bits, "
        "0x7fffffffffffffff;\n\tmov.b64 %0, bits;\n\t}"
        : "=d"(magnitude)
        : "d"(x));
    return magnitude;
  }
  // Explicit, so --fmad=false leaves it fused.
  static TF_INLINE float fma(float x, float y, float z) { return ::fmaf(x, y, z); }
  static TF_INLINE double fma(double x, double y, double z) { return ::fma(x, y, z); }
};
#undef TF_MATH_1
#undef TF_MATH_2

// Float math through the special-function units, for values that end up as float16 or
// bfloat16: errors of a few float ulp (tanh: 2^-11 relative) vanish in that rounding.
// Doubles stay accurate.
// Division stays exact (as TfMath's): an exact quotient (x / x, 6 / 3) must stay exact,
// and a memory-bound kernel does not feel the difference.
struct TfFastMath : TfMath {
  using TfMath::exp;
  using TfMath::log;
  using TfMath::tanh;
  static TF_INLINE float exp(float x) { return __expf(x); }
  static TF_INLINE float log(float x) { return __logf(x); }
  static TF_INLINE float tanh(float x) {
#if __CUDA_ARCH__ >= 750
    float out;
    asm("tanh.approx.f32 %0, %1;" : "=f"(out) : "f"(x));
    return out;
#else
    return ::tanhf(x);
#endif
  }
};

TF_INLINE double tf_infinity() {
  return __longlong_as_double(0x7ff0000000000000LL);
}
TF_INLINE double tf_nan() {
  return __longlong_as_double(0x7ff8000000000000LL);
}

// float16 and bfloat16 as 2-byte storage; arithmetic happens in float.
struct tf_half {
  unsigned short bits;
};
struct tf_bfloat16 {
  unsigned short bits;
};
TF_INLINE float tf_half_to_float(tf_half x) {
  float out;
  asm("cvt.f32.f16 %0, %1;" : "=f"(out) : "h"(x.bits));
  return out;
}
TF_INLINE tf_half tf_float_to_half(float x) {
  tf_half out;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(out.bits) : "f"(x));
  return out;
}
TF_INLINE float tf_bfloat16_to_float(tf_bfloat16 x) {
  return __uint_as_float(static_cast<unsigned>(x.bits) << 16);
}
TF_INLINE tf_bfloat16 tf_float_to_bfloat16(float x) {
  if (x != x) return tf_bfloat16{0x7fc0};  // quiet NaN, as c10::BFloat16
  unsigned bits = __float_as_uint(x);
  bits += 0x7fffu + ((bits >> 16) & 1u);  // round to nearest even
  return tf_bfloat16{static_cast<unsigned short>(bits >> 16)};
}

// N elements of T loaded or stored as one aligned access (16 bytes in the fast path).
template <typename T, int N>
struct alignas(sizeof(T) * N) TfVec {
  T val[N];
};

// Element k of a loaded vector. Bytes come out through bfe, which the optimizer cannot
// see through: NVRTC 13.0 keeps two bytes of a vector in one 16-bit register and, for the
// low one, sometimes skips the sign extension or masking an operation needs, so the
// neighbouring byte leaks in. int8 x // 2 gave -128 for x = 0 next to a 1 (fuzz seed
// 1334845), (x + 1).clamp(0, 5) gave 5 for x = 127 (931487).
template <typename T, int N>
TF_INLINE T tf_lane(const TfVec<T, N>& v, int k) {
  return v.val[k];
}
template <typename T, int N>
TF_INLINE unsigned tf_word_holding(const TfVec<T, N>& v, int k) {
  static_assert(sizeof(T) == 1, "a vector of bytes");
  if constexpr (N >= 4) {
    return reinterpret_cast<const unsigned*>(v.val)[k / 4];
  } else if constexpr (N == 2) {
    return *reinterpret_cast<const unsigned short*>(v.val);
  } else {
    return *reinterpret_cast<const unsigned char*>(v.val);
  }
}
template <int N>
TF_INLINE int8_t tf_lane(const TfVec<int8_t, N>& v, int k) {
  int lane;
  asm("bfe.s32 %0, %1, %2, 8;" : "=r"(lane) : "r"(tf_word_holding(v, k)), "r"((k % 4) * 8));
  return static_cast<int8_t>(lane);
}
template <typename T, int N>
TF_INLINE unsigned tf_unsigned_byte(const TfVec<T, N>& v, int k) {
  unsigned lane;
  asm("bfe.u32 %0, %1, %2, 8;" : "=r"(lane) : "r"(tf_word_holding(v, k)), "r"((k % 4) * 8));
  return lane;
}
template <int N>
TF_INLINE uint8_t tf_lane(const TfVec<uint8_t, N>& v, int k) {
  return static_cast<uint8_t>(tf_unsigned_byte(v, k));
}
template <int N>
TF_INLINE bool tf_lane(const TfVec<bool, N>& v, int k) {
  return tf_unsigned_byte(v, k) != 0;
}

// Counter-based random numbers: Philox4x32 with 10 rounds (Salmon et al., "Parallel
// random numbers: as easy as 1, 2, 3", SC'11). Stateless: the value of element i depends
// only on (seed, i, offset), so any grid computes the same numbers.
struct TfPhilox {
  unsigned x, y, z, w;
};
TF_INLINE TfPhilox tf_philox(uint64_t seed, uint64_t counter_low, uint64_t counter_high) {
  unsigned key0 = static_cast<unsigned>(seed), key1 = static_cast<unsigned>(seed >> 32);
  unsigned c0 = static_cast<unsigned>(counter_low), c1 = static_cast<unsigned>(counter_low >> 32);
  unsigned c2 = static_cast<unsigned>(counter_high), c3 = static_cast<unsigned>(counter_high >> 32);
#pragma unroll
  for (int round = 0; round < 10; ++round) {
    const unsigned hi0 = __umulhi(0xD2511F53u, c0), lo0 = 0xD2511F53u * c0;
    const unsigned hi1 = __umulhi(0xCD9E8D57u, c2), lo1 = 0xCD9E8D57u * c2;
    c0 = hi1 ^ c1 ^ key0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ key1;
    c3 = lo0;
    key0 += 0x9E3779B9u;
    key1 += 0xBB67AE85u;
  }
  return TfPhilox{c0, c1, c2, c3};
}

// Uniform in [0, 1) with `Bits` random bits: k / 2^Bits, exact in any dtype with at least
// Bits of mantissa (so rounding to float16/bfloat16 never reaches 1).
template <typename T, int Bits>
TF_INLINE T tf_uniform(uint64_t seed, uint64_t offset, uint64_t index) {
  const TfPhilox r = tf_philox(seed, index, offset);
  if (Bits <= 32) {
    return static_cast<T>(static_cast<float>(r.x >> (32 - Bits)) * (1.0f / (1u << Bits)));
  }
  const uint64_t bits = ((static_cast<uint64_t>(r.x) << 32) | r.y) >> (64 - Bits);
  return static_cast<T>(static_cast<double>(bits) * (1.0 / static_cast<double>(1ull << Bits)));
}
