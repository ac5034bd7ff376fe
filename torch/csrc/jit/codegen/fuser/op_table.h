// The op table: every operation a fused kernel can compute, written once.
//
// Two lists live here:
//  * TORCH_FUSER_FORALL_OPS — the primitive operations of generated code with their
//    spelling. `$0`, `$1`, `$2` are the operands, already named typed temporaries of
//    the operation's compute type; `$M` is the math policy (TfMath, or TfFastMath where
//    lowering allows approximation); `$T` the result type and its random bits (random
//    ops). Helpers (tf_*) come from the kernel preambles, which
//    both the CPU and the CUDA flavour provide, so one spelling serves both.
//  * the TorchScript schemas that lower onto them (op_table.cpp), each with the lowering
//    pattern that decides its types (see lowering.h).
// Adding an op = one line in each list + tests.
#pragma once

#include <ATen/core/function_schema.h>
#include <ATen/core/interned_strings.h>

#include <cstdint>
#include <vector>

namespace torch {
namespace jit {
struct Node;
}  // namespace jit
}  // namespace torch

namespace torch_fuser {

// _(Name, arity, spelling, returns_bool)
#define TORCH_FUSER_FORALL_OPS(_)                                           \
  _(Add, 2, "$0 + $1", false)                                               \
  _(Sub, 2, "$0 - $1", false)                                               \
  _(Mul, 2, "$0 * $1", false)                                               \
  _(Div, 2, "$M::div($0, $1)", false)                                       \
  _(Neg, 1, "-$0", false)                                                   \
  _(Abs, 1, "$M::fabs($0)", false)                                          \
  _(Reciprocal, 1, "tf_reciprocal<$M>($0)", false)                          \
  _(Relu, 1, "tf_relu($0)", false)                                          \
  _(Sigmoid, 1, "tf_sigmoid<$M>($0)", false)                                \
  _(Tanh, 1, "$M::tanh($0)", false)                                         \
  _(Exp, 1, "$M::exp($0)", false)                                           \
  _(Log, 1, "$M::log($0)", false)                                           \
  _(Sqrt, 1, "$M::sqrt($0)", false)                                         \
  _(Rsqrt, 1, "tf_rsqrt<$M>($0)", false)                                    \
  _(PowScalar, 2, "tf_pow_scalar<$M>($0, $1)", false)                       \
  _(Maximum, 2, "tf_maximum($0, $1)", false)                                \
  _(Minimum, 2, "tf_minimum($0, $1)", false)                                \
  _(Where, 3, "$0 ? $1 : $2", false)                                        \
  _(Eq, 2, "$0 == $1", true)                                                \
  _(Ne, 2, "$0 != $1", true)                                                \
  _(Lt, 2, "$0 < $1", true)                                                 \
  _(Le, 2, "$0 <= $1", true)                                                \
  _(Gt, 2, "$0 > $1", true)                                                 \
  _(Ge, 2, "$0 >= $1", true)                                                \
  _(RandUniform, 0, "tf_uniform<$T>(tf_seed, tf_offset, tf_linear)", false) \
  _(Exp2, 1, "$M::exp2($0)", false)                                         \
  _(Expm1, 1, "$M::expm1($0)", false)                                       \
  _(Log1p, 1, "$M::log1p($0)", false)                                       \
  _(Log2, 1, "$M::log2($0)", false)                                         \
  _(Log10, 1, "$M::log10($0)", false)                                       \
  _(Sin, 1, "$M::sin($0)", false)                                           \
  _(Cos, 1, "$M::cos($0)", false)                                           \
  _(Tan, 1, "$M::tan($0)", false)                                           \
  _(Asin, 1, "$M::asin($0)", false)                                         \
  _(Acos, 1, "$M::acos($0)", false)                                         \
  _(Atan, 1, "$M::atan($0)", false)                                         \
  _(Sinh, 1, "$M::sinh($0)", false)                                         \
  _(Cosh, 1, "$M::cosh($0)", false)                                         \
  _(Erf, 1, "$M::erf($0)", false)                                           \
  _(Erfc, 1, "$M::erfc($0)", false)                                         \
  _(Lgamma, 1, "$M::lgamma($0)", false)                                     \
  _(Ceil, 1, "$M::ceil($0)", false)                                         \
  _(Floor, 1, "$M::floor($0)", false)                                       \
  _(Round, 1, "$M::nearbyint($0)", false)                                   \
  _(Trunc, 1, "$M::trunc($0)", false)                                       \
  _(Frac, 1, "tf_frac<$M>($0)", false)                                      \
  _(Sign, 1, "tf_sign($0)", false)                                          \
  _(Atan2, 2, "$M::atan2($0, $1)", false)                                   \
  _(Fmod, 2, "$M::fmod($0, $1)", false)                                     \
  _(Remainder, 2, "tf_remainder<$M>($0, $1)", false)                        \
  _(Pow, 2, "$M::pow($0, $1)", false)                                       \
  _(DivTrunc, 2, "$M::trunc($0 / $1)", false)                               \
  _(DivFloor, 2, "tf_div_floor<$M>($0, $1)", false)                         \
  _(Silu, 1, "tf_silu<$M>($0)", false)                                      \
  _(Hardsigmoid, 1, "tf_hardsigmoid($0)", false)                            \
  _(Hardswish, 1, "tf_hardswish($0)", false)                                \
  _(Hardtanh, 3, "tf_hardtanh($0, $1, $2)", false)                          \
  _(LeakyRelu, 2, "tf_leaky_relu($0, $1)", false)                           \
  _(Elu, 4, "tf_elu<$M>($0, $1, $2, $3)", false)                            \
  _(Softplus, 3, "tf_softplus<$M>($0, $1, $2)", false)                      \
  _(Mish, 1, "tf_mish<$M>($0)", false)                                      \
  _(GeluErf, 1, "tf_gelu_erf<$M>($0)", false)                               \
  _(GeluTanh, 1, "tf_gelu_tanh<$M>($0)", false)                             \
  _(Threshold, 3, "tf_threshold($0, $1, $2)", false)                        \
  _(Lerp, 3, "tf_lerp<$M>($0, $1, $2)", false)                              \
  _(Addcmul, 4, "$0 + $3 * $1 * $2", false)                                 \
  _(Addcdiv, 4, "$0 + $3 * ($1 / $2)", false)

enum class OpKind : uint8_t {
#define TORCH_FUSER_DEFINE_OP(name, arity, spelling, returns_bool) name,
  TORCH_FUSER_FORALL_OPS(TORCH_FUSER_DEFINE_OP)
#undef TORCH_FUSER_DEFINE_OP
};

const char* opName(OpKind kind);
int opArity(OpKind kind);
const char* opSpelling(OpKind kind);
bool opReturnsBool(OpKind kind);

// How a TorchScript node's operands map onto primitive ops; the type decisions of each
// pattern are written down in lowering.h.
enum class LoweringPattern : uint8_t {
  kUnary,         // op(self)
  kUnaryFloat,    // op(self); integral inputs compute in the default float dtype
  kBinary,        // op(self, other)
  kBinaryFloat,   // op(self, other); integral operands compute in the default float dtype
  kCompare,       // op(self, other) -> bool
  kAlphaBinary,   // op(self, alpha * other)          add/sub with alpha
  kReverseAlpha,  // op(other, alpha * self)          rsub
  kPowScalar,     // self ** exponent (a Scalar)
  kClamp,         // clamp(self, min?, max?)
  kClampMin,      // clamp_min(self, min)
  kClampMax,      // clamp_max(self, max)
  kWhere,         // where(condition, self, other)
  kRandLike,      // rand_like(self): uniform [0, 1) of self's shape (CUDA only)
  kSelfTyped,     // op(self, scalars...): computes in self's dtype, scalars cast to it
  kGelu,          // gelu(self, approximate: 'none' | 'tanh')
  kDivMode,       // div(self, other, rounding_mode: None | 'trunc' | 'floor')
  kPromoteAll,    // op(a, b, c, [scalar]): tensors promote together, the scalar casts
  kTypeAs,        // type_as(self, other): self converted to other's dtype
};

struct FusibleOp {
  c10::FunctionSchema schema;
  LoweringPattern pattern;
  OpKind op;
  // The result's shape is the first input's alone (type_as reads only other's dtype);
  // otherwise it is the broadcast of all tensor inputs.
  bool shape_from_self() const { return pattern == LoweringPattern::kTypeAs; }
};

// The FusibleOp a node matches, or nullptr. Matching is by full schema.
const FusibleOp* findFusibleOp(const torch::jit::Node* node);

}  // namespace torch_fuser
