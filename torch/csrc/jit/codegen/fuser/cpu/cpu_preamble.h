// The CPU flavour's preamble: what common_preamble.h needs, from the C++ standard library.
// Embedded at build time; printed after kernel_abi.h and before common_preamble.h.
#include <cmath>
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
