// The op table: every operation a fused kernel can compute, written once.
//
// Two lists live here:
//  * TORCH_FUSER_FORALL_OPS — the primitive operations of generated code with their
//    spelling and the dtypes they compute in (OpDomain). `$0`, `$1`, `$2` are the operands, already
//    named typed temporaries of the operation's compute type; `$M` is the math policy (TfMath, or
//    TfFastMath where lowering allows approximation); `$T` the result type and its random bits
//    (random ops). Helpers (tf_*) come from the kernel preambles, which both the CPU and the CUDA
//    flavour provide, so one spelling serves both.
//  * the TorchScript schemas that lower onto them (op_table.cpp), each with the lowering
//    pattern that decides its types (see lowering.h).
// Adding an op = one line in each list + tests.
#pragma once

#include <ATen/core/function_schema.h>
#include <ATen/core/interned_strings.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <vector>

namespace torch {
namespace jit {
struct Node;
}  // namespace jit
}  // namespace torch

namespace torch_fuser {

// _(Name, arity, spelling, returns_bool, domain)
#define TORCH_FUSER_FORALL_OPS(_)                                                   \
  _(Add, 2, "tf_add($0, $1)", false, kAny)                                          \
  _(Sub, 2, "tf_sub($0, $1)", false, kNumeric)                                      \
  _(Mul, 2, "tf_mul($0, $1)", false, kAny)                                          \
  _(Div, 2, "$M::div($0, $1)", false, kFloat)                                       \
  _(AddScaled, 3, "tf_add_scaled<$M>($0, $1, $2)", false, kNumeric)                 \
  _(Neg, 1, "tf_neg($0)", false, kNumeric)                                          \
  _(Abs, 1, "tf_abs<$M>($0)", false, kNumeric)                                      \
  _(Reciprocal, 1, "tf_reciprocal<$M>($0)", false, kFloat)                          \
  _(Relu, 1, "tf_relu($0)", false, kNumeric)                                        \
  _(Sigmoid, 1, "tf_sigmoid<$M>($0)", false, kFloat)                                \
  _(Tanh, 1, "$M::tanh($0)", false, kFloat)                                         \
  _(Exp, 1, "$M::exp($0)", false, kFloat)                                           \
  _(Log, 1, "$M::log($0)", false, kFloat)                                           \
  _(Sqrt, 1, "$M::sqrt($0)", false, kFloat)                                         \
  _(Rsqrt, 1, "tf_rsqrt<$M>($0)", false, kFloat)                                    \
  _(PowScalar, 2, "tf_pow_scalar<$M>($0, $1)", false, kFloat)                       \
  _(Maximum, 2, "tf_maximum($0, $1)", false, kAny)                                  \
  _(Minimum, 2, "tf_minimum($0, $1)", false, kAny)                                  \
  _(Where, 3, "$0 ? $1 : $2", false, kAny)                                          \
  _(Eq, 2, "$0 == $1", true, kAny)                                                  \
  _(Ne, 2, "$0 != $1", true, kAny)                                                  \
  _(Lt, 2, "$0 < $1", true, kAny)                                                   \
  _(Le, 2, "$0 <= $1", true, kAny)                                                  \
  _(Gt, 2, "$0 > $1", true, kAny)                                                   \
  _(Ge, 2, "$0 >= $1", true, kAny)                                                  \
  _(RandUniform, 0, "tf_uniform<$T>(tf_seed, tf_offset, tf_linear)", false, kFloat) \
  _(Exp2, 1, "$M::exp2($0)", false, kFloat)                                         \
  _(Expm1, 1, "$M::expm1($0)", false, kFloat)                                       \
  _(Log1p, 1, "$M::log1p($0)", false, kFloat)                                       \
  _(Log2, 1, "$M::log2($0)", false, kFloat)                                         \
  _(Log10, 1, "$M::log10($0)", false, kFloat)                                       \
  _(Sin, 1, "$M::sin($0)", false, kFloat)                                           \
  _(Cos, 1, "$M::cos($0)", false, kFloat)                                           \
  _(Tan, 1, "$M::tan($0)", false, kFloat)                                           \
  _(Asin, 1, "$M::asin($0)", false, kFloat)                                         \
  _(Acos, 1, "$M::acos($0)", false, kFloat)                                         \
  _(Atan, 1, "$M::atan($0)", false, kFloat)                                         \
  _(Sinh, 1, "$M::sinh($0)", false, kFloat)                                         \
  _(Cosh, 1, "$M::cosh($0)", false, kFloat)                                         \
  _(Erf, 1, "$M::erf($0)", false, kFloat)                                           \
  _(Erfc, 1, "$M::erfc($0)", false, kFloat)                                         \
  _(Lgamma, 1, "$M::lgamma($0)", false, kFloat)                                     \
  _(Ceil, 1, "$M::ceil($0)", false, kFloat)                                         \
  _(Floor, 1, "$M::floor($0)", false, kFloat)                                       \
  _(Round, 1, "$M::nearbyint($0)", false, kFloat)                                   \
  _(Trunc, 1, "$M::trunc($0)", false, kFloat)                                       \
  _(Frac, 1, "tf_frac<$M>($0)", false, kFloat)                                      \
  _(Sign, 1, "tf_sign($0)", false, kNumeric)                                        \
  _(Atan2, 2, "$M::atan2($0, $1)", false, kFloat)                                   \
  _(Fmod, 2, "$M::fmod($0, $1)", false, kFloat)                                     \
  _(Remainder, 2, "tf_remainder<$M>($0, $1)", false, kFloat)                        \
  _(Pow, 2, "$M::pow($0, $1)", false, kFloat)                                       \
  _(DivTrunc, 2, "$M::trunc($0 / $1)", false, kFloat)                               \
  _(DivFloor, 2, "tf_div_floor<$M>($0, $1)", false, kFloat)                         \
  _(Silu, 1, "tf_silu<$M>($0)", false, kFloat)                                      \
  _(Hardsigmoid, 1, "tf_hardsigmoid($0)", false, kFloat)                            \
  _(Hardswish, 1, "tf_hardswish($0)", false, kFloat)                                \
  _(Hardtanh, 3, "tf_hardtanh($0, $1, $2)", false, kFloat)                          \
  _(LeakyRelu, 2, "tf_leaky_relu($0, $1)", false, kFloat)                           \
  _(Elu, 4, "tf_elu<$M>($0, $1, $2, $3)", false, kFloat)                            \
  _(Softplus, 3, "tf_softplus<$M>($0, $1, $2)", false, kFloat)                      \
  _(Mish, 1, "tf_mish<$M>($0)", false, kFloat)                                      \
  _(GeluErf, 1, "tf_gelu_erf<$M>($0)", false, kFloat)                               \
  _(GeluTanh, 1, "tf_gelu_tanh<$M>($0)", false, kFloat)                             \
  _(GeluBackwardErf, 2, "tf_gelu_backward_erf<$M>($0, $1)", false, kFloat)          \
  _(GeluBackwardTanh, 2, "tf_gelu_backward_tanh<$M>($0, $1)", false, kFloat)        \
  _(MaskedScale, 3, "$0 * $1 * $2", false, kFloat)                                  \
  _(Threshold, 3, "tf_threshold($0, $1, $2)", false, kFloat)                        \
  _(Lerp, 3, "tf_lerp<$M>($0, $1, $2)", false, kFloat)                              \
  _(Addcmul, 4, "$0 + $3 * $1 * $2", false, kFloat)                                 \
  _(Addcdiv, 4, "$0 + $3 * ($1 / $2)", false, kFloat)                               \
  _(IDivTrunc, 2, "tf_idiv_trunc($0, $1)", false, kInteger)                         \
  _(IDivFloor, 2, "tf_idiv_floor($0, $1)", false, kInteger)                         \
  _(IRemainder, 2, "tf_iremainder($0, $1)", false, kInteger)                        \
  _(IFmod, 2, "tf_ifmod($0, $1)", false, kInteger)                                  \
  _(IPow, 2, "tf_ipow($0, $1)", false, kInteger)                                    \
  _(BitAnd, 2, "$0 & $1", false, kIntegral)                                         \
  _(BitOr, 2, "$0 | $1", false, kIntegral)                                          \
  _(BitXor, 2, "$0 ^ $1", false, kIntegral)                                         \
  _(BitNot, 1, "tf_bitwise_not($0)", false, kIntegral)                              \
  _(LeftShift, 2, "tf_left_shift($0, $1)", false, kInteger)                         \
  _(RightShift, 2, "tf_right_shift($0, $1)", false, kInteger)                       \
  _(LogicalAnd, 2, "$0 && $1", true, kAny)                                          \
  _(LogicalOr, 2, "$0 || $1", true, kAny)                                           \
  _(LogicalXor, 2, "$0 != $1", true, kAny)                                          \
  _(LogicalNot, 1, "!$0", true, kAny)

// The compute dtypes an op is defined for. Lowering refuses others, so the call falls
// back to the interpreter and eager's own error (e.g. bitwise ops on floats) surfaces.
enum class OpDomain : uint8_t {
  kFloat,     // floating point only (integral operands are promoted before, or refused)
  kNumeric,   // floating point and integers, not bool
  kAny,       // floating point, integers and bool
  kIntegral,  // integers and bool
  kInteger,   // integers only
};

enum class OpKind : uint8_t {
#define TORCH_FUSER_DEFINE_OP(name, arity, spelling, returns_bool, domain) name,
  TORCH_FUSER_FORALL_OPS(TORCH_FUSER_DEFINE_OP)
#undef TORCH_FUSER_DEFINE_OP
};

const char* opName(OpKind kind);
int opArity(OpKind kind);
const char* opSpelling(OpKind kind);
bool opReturnsBool(OpKind kind);
OpDomain opDomain(OpKind kind);
// Whether `op` can compute in `dtype` (float16/bfloat16 count as floating point).
bool opSupportsDtype(OpKind op, c10::ScalarType dtype);

// How a TorchScript node's operands map onto primitive ops; the type decisions of each
// pattern are written down in lowering.h.
enum class LoweringPattern : uint8_t {
  kUnary,            // op(self)
  kUnaryFloat,       // op(self); integral inputs compute in the default float dtype
  kBinary,           // op(self, other)
  kBinaryFloat,      // op(self, other); integral operands compute in the default float dtype
  kCompare,          // op(self, other) -> bool
  kAlphaBinary,      // op(self, alpha * other)          add/sub with alpha
  kReverseAlpha,     // op(other, alpha * self)          rsub
  kPowScalar,        // self ** exponent (a Scalar)
  kClamp,            // clamp(self, min?, max?)
  kClampMin,         // clamp_min(self, min)
  kClampMax,         // clamp_max(self, max)
  kWhere,            // where(condition, self, other)
  kRandLike,         // rand_like(self): uniform [0, 1) of self's shape (CUDA only)
  kSelfTyped,        // op(self, scalars...): computes in self's dtype, scalars cast to it
  kGelu,             // gelu(self, approximate: 'none' | 'tanh')
  kGeluBackward,     // gelu_backward(grad, self, approximate): both promote, like a binary op
  kDropoutBackward,  // native_dropout_backward(grad, mask, scale): grad * mask * scale
  kDivMode,          // div(self, other, rounding_mode: None | 'trunc' | 'floor')
  kPromoteAll,       // op(a, b, c, [scalar]): tensors promote together, the scalar casts
  kTypeAs,           // type_as(self, other): self converted to other's dtype
  kTo,               // to(self, dtype, ...): self converted to a constant dtype
  kToDevice,         // to(self, device, dtype?, ...): onto the kernel's own device only
  kAutocastReduced,  // _autocast_to_reduced_precision(self, cuda_on, cpu_on, cuda_t, cpu_t)
  kAutocastFull,     // _autocast_to_full_precision(self, cuda_on, cpu_on)
  kRounding,         // ceil/floor/round/trunc: the identity on integers
  kLogical,          // logical_*(a, b?): operands tested for non-zero, bool result
  kFloorDivide,      // floor_divide(self, other): div with rounding_mode='floor'
};

struct FusibleOp {
  c10::FunctionSchema schema;
  LoweringPattern pattern;
  OpKind op;
  // The result's shape is the first input's alone (type_as reads only other's dtype);
  // otherwise it is the broadcast of all tensor inputs.
  bool shape_from_self() const { return pattern == LoweringPattern::kTypeAs || converts(); }
  // A conversion whose eager result may be self itself (Tensor(a) -> Tensor(a)); a fused
  // one is always a fresh tensor. Its other arguments must be constants.
  bool converts() const {
    return pattern == LoweringPattern::kTo || pattern == LoweringPattern::kToDevice ||
           pattern == LoweringPattern::kAutocastReduced ||
           pattern == LoweringPattern::kAutocastFull;
  }
};

// The FusibleOp a node matches, or nullptr. Matching is by full schema.
const FusibleOp* findFusibleOp(const torch::jit::Node* node);

}  // namespace torch_fuser
