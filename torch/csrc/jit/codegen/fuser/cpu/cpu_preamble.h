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

#define TF_INLINE static inline

namespace tf_math {
using std::exp;
using std::fabs;
using std::log;
using std::pow;
using std::sqrt;
using std::tanh;
}  // namespace tf_math

static inline double tf_infinity() { return std::numeric_limits<double>::infinity(); }
static inline double tf_nan() { return std::numeric_limits<double>::quiet_NaN(); }
