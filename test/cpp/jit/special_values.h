// The special-values checks (test_special_values.cpp), for any device.
#pragma once

#include <c10/core/Device.h>

namespace torch_fuser {
namespace testing {

// Fuses f(g(x)) for every pair of unary float ops and compares with eager on NaN, +-Inf,
// +-0, denormals and overflow edges, in float32 and float64 on `device`.
void checkEveryUnaryPair(const c10::Device& device);

// Integer arithmetic that overflows (add, mul, sub, neg, abs, left shift, a narrowing
// cast) wraps as eager's does, in every integer dtype, through the vectorized,
// element-wise and strided loops on `device`.
void checkIntegerOverflowWraps(const c10::Device& device);

// relu, clamp, hardtanh, threshold and the other ops that pick x or a bound give +0 or -0
// exactly as eager does on `device` (the two devices' eager kernels differ on ties).
void checkSignedZeroTies(const c10::Device& device);

// where(|x| >= 0, |x|, c) and the like give c for NaN, as eager.
void checkNaNFailsComparisonsOfMagnitudes(const c10::Device& device);

}  // namespace testing
}  // namespace torch_fuser
