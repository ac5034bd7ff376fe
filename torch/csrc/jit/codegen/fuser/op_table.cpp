#include "torch/csrc/jit/codegen/fuser/op_table.h"

#include <torch/csrc/jit/frontend/function_schema_parser.h>
#include <torch/csrc/jit/ir/ir.h>

#include <unordered_map>

namespace torch_fuser {
namespace {

struct OpInfo {
  const char* name;
  int arity;
  const char* spelling;
  bool returns_bool;
  OpDomain domain;
};

const OpInfo kOpInfos[] = {
#define TORCH_FUSER_OP_INFO(name, arity, spelling, returns_bool, domain) \
  {#name, arity, spelling, returns_bool, OpDomain::domain},
    TORCH_FUSER_FORALL_OPS(TORCH_FUSER_OP_INFO)
#undef TORCH_FUSER_OP_INFO
};

using P = LoweringPattern;

struct SchemaEntry {
  const char* schema;
  LoweringPattern pattern;
  OpKind op;
};

// TorchScript schemas that lower onto the primitive ops. Every overload is listed
// explicitly: a node fuses only if it matches one of these exactly.
const SchemaEntry kSchemas[] = {
    {"aten::add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor", P::kAlphaBinary,
     OpKind::Add},
    {"aten::add.Scalar(Tensor self, Scalar other, Scalar alpha=1) -> Tensor", P::kAlphaBinary,
     OpKind::Add},
    {"aten::sub.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor", P::kAlphaBinary,
     OpKind::Sub},
    {"aten::sub.Scalar(Tensor self, Scalar other, Scalar alpha=1) -> Tensor", P::kAlphaBinary,
     OpKind::Sub},
    {"aten::rsub.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor", P::kReverseAlpha,
     OpKind::Sub},
    {"aten::rsub.Scalar(Tensor self, Scalar other, Scalar alpha=1) -> Tensor", P::kReverseAlpha,
     OpKind::Sub},
    {"aten::mul.Tensor(Tensor self, Tensor other) -> Tensor", P::kBinary, OpKind::Mul},
    {"aten::mul.Scalar(Tensor self, Scalar other) -> Tensor", P::kBinary, OpKind::Mul},
    {"aten::div.Tensor(Tensor self, Tensor other) -> Tensor", P::kBinaryFloat, OpKind::Div},
    {"aten::div.Scalar(Tensor self, Scalar other) -> Tensor", P::kBinaryFloat, OpKind::Div},
    {"aten::neg(Tensor self) -> Tensor", P::kUnary, OpKind::Neg},
    {"aten::abs(Tensor self) -> Tensor", P::kUnary, OpKind::Abs},
    {"aten::relu(Tensor self) -> Tensor", P::kUnary, OpKind::Relu},
    {"aten::reciprocal(Tensor self) -> Tensor", P::kUnaryFloat, OpKind::Reciprocal},
    {"aten::sigmoid(Tensor self) -> Tensor", P::kUnaryFloat, OpKind::Sigmoid},
    {"aten::tanh(Tensor self) -> Tensor", P::kUnaryFloat, OpKind::Tanh},
    {"aten::exp(Tensor self) -> Tensor", P::kUnaryFloat, OpKind::Exp},
    {"aten::log(Tensor self) -> Tensor", P::kUnaryFloat, OpKind::Log},
    {"aten::sqrt(Tensor self) -> Tensor", P::kUnaryFloat, OpKind::Sqrt},
    {"aten::rsqrt(Tensor self) -> Tensor", P::kUnaryFloat, OpKind::Rsqrt},
    {"aten::pow.Tensor_Scalar(Tensor self, Scalar exponent) -> Tensor", P::kPowScalar,
     OpKind::PowScalar},
    {"aten::clamp(Tensor self, Scalar? min=None, Scalar? max=None) -> Tensor", P::kClamp,
     OpKind::Maximum},
    {"aten::clamp_min(Tensor self, Scalar min) -> Tensor", P::kClampMin, OpKind::Maximum},
    {"aten::clamp_max(Tensor self, Scalar max) -> Tensor", P::kClampMax, OpKind::Minimum},
    {"aten::clamp.Tensor(Tensor self, Tensor? min=None, Tensor? max=None) -> Tensor", P::kClamp,
     OpKind::Maximum},
    {"aten::clamp_min.Tensor(Tensor self, Tensor min) -> Tensor", P::kClampMin, OpKind::Maximum},
    {"aten::clamp_max.Tensor(Tensor self, Tensor max) -> Tensor", P::kClampMax, OpKind::Minimum},
    {"aten::maximum(Tensor self, Tensor other) -> Tensor", P::kBinary, OpKind::Maximum},
    {"aten::minimum(Tensor self, Tensor other) -> Tensor", P::kBinary, OpKind::Minimum},
    {"aten::max.other(Tensor self, Tensor other) -> Tensor", P::kBinary, OpKind::Maximum},
    {"aten::min.other(Tensor self, Tensor other) -> Tensor", P::kBinary, OpKind::Minimum},
    {"aten::where.self(Tensor condition, Tensor self, Tensor other) -> Tensor", P::kWhere,
     OpKind::Where},
    {"aten::where.ScalarSelf(Tensor condition, Scalar self, Tensor other) -> Tensor", P::kWhere,
     OpKind::Where},
    {"aten::where.ScalarOther(Tensor condition, Tensor self, Scalar other) -> Tensor", P::kWhere,
     OpKind::Where},
    {"aten::eq.Tensor(Tensor self, Tensor other) -> Tensor", P::kCompare, OpKind::Eq},
    {"aten::eq.Scalar(Tensor self, Scalar other) -> Tensor", P::kCompare, OpKind::Eq},
    {"aten::ne.Tensor(Tensor self, Tensor other) -> Tensor", P::kCompare, OpKind::Ne},
    {"aten::ne.Scalar(Tensor self, Scalar other) -> Tensor", P::kCompare, OpKind::Ne},
    {"aten::lt.Tensor(Tensor self, Tensor other) -> Tensor", P::kCompare, OpKind::Lt},
    {"aten::lt.Scalar(Tensor self, Scalar other) -> Tensor", P::kCompare, OpKind::Lt},
    {"aten::le.Tensor(Tensor self, Tensor other) -> Tensor", P::kCompare, OpKind::Le},
    {"aten::le.Scalar(Tensor self, Scalar other) -> Tensor", P::kCompare, OpKind::Le},
    {"aten::gt.Tensor(Tensor self, Tensor other) -> Tensor", P::kCompare, OpKind::Gt},
    {"aten::gt.Scalar(Tensor self, Scalar other) -> Tensor", P::kCompare, OpKind::Gt},
    {"aten::ge.Tensor(Tensor self, Tensor other) -> Tensor", P::kCompare, OpKind::Ge},
    {"aten::ge.Scalar(Tensor self, Scalar other) -> Tensor", P::kCompare, OpKind::Ge},
    {"aten::exp2(Tensor self) -> Tensor", P::kUnaryFloat, OpKind::Exp2},
    {"aten::expm1(Tensor self) -> Tensor", P::kUnaryFloat, OpKind::Expm1},
    {"aten::log1p(Tensor self) -> Tensor", P::kUnaryFloat, OpKind::Log1p},
    {"aten::log2(Tensor self) -> Tensor", P::kUnaryFloat, OpKind::Log2},
    {"aten::log10(Tensor self) -> Tensor", P::kUnaryFloat, OpKind::Log10},
    {"aten::sin(Tensor self) -> Tensor", P::kUnaryFloat, OpKind::Sin},
    {"aten::cos(Tensor self) -> Tensor", P::kUnaryFloat, OpKind::Cos},
    {"aten::tan(Tensor self) -> Tensor", P::kUnaryFloat, OpKind::Tan},
    {"aten::asin(Tensor self) -> Tensor", P::kUnaryFloat, OpKind::Asin},
    {"aten::acos(Tensor self) -> Tensor", P::kUnaryFloat, OpKind::Acos},
    {"aten::atan(Tensor self) -> Tensor", P::kUnaryFloat, OpKind::Atan},
    {"aten::sinh(Tensor self) -> Tensor", P::kUnaryFloat, OpKind::Sinh},
    {"aten::cosh(Tensor self) -> Tensor", P::kUnaryFloat, OpKind::Cosh},
    {"aten::erf(Tensor self) -> Tensor", P::kUnaryFloat, OpKind::Erf},
    {"aten::erfc(Tensor self) -> Tensor", P::kUnaryFloat, OpKind::Erfc},
    {"aten::lgamma(Tensor self) -> Tensor", P::kUnaryFloat, OpKind::Lgamma},
    {"aten::ceil(Tensor self) -> Tensor", P::kRounding, OpKind::Ceil},
    {"aten::floor(Tensor self) -> Tensor", P::kRounding, OpKind::Floor},
    {"aten::round(Tensor self) -> Tensor", P::kRounding, OpKind::Round},
    {"aten::trunc(Tensor self) -> Tensor", P::kRounding, OpKind::Trunc},
    {"aten::frac(Tensor self) -> Tensor", P::kUnary, OpKind::Frac},
    {"aten::sign(Tensor self) -> Tensor", P::kUnary, OpKind::Sign},
    {"aten::atan2(Tensor self, Tensor other) -> Tensor", P::kBinaryFloat, OpKind::Atan2},
    {"aten::fmod.Tensor(Tensor self, Tensor other) -> Tensor", P::kBinary, OpKind::Fmod},
    {"aten::fmod.Scalar(Tensor self, Scalar other) -> Tensor", P::kBinary, OpKind::Fmod},
    {"aten::remainder.Tensor(Tensor self, Tensor other) -> Tensor", P::kBinary, OpKind::Remainder},
    {"aten::remainder.Scalar(Tensor self, Scalar other) -> Tensor", P::kBinary, OpKind::Remainder},
    {"aten::pow.Tensor_Tensor(Tensor self, Tensor exponent) -> Tensor", P::kBinary, OpKind::Pow},
    {"aten::pow.Scalar(Scalar self, Tensor exponent) -> Tensor", P::kBinary, OpKind::Pow},
    {"aten::div.Tensor_mode(Tensor self, Tensor other, *, str? rounding_mode) -> Tensor",
     P::kDivMode, OpKind::Div},
    {"aten::div.Scalar_mode(Tensor self, Scalar other, *, str? rounding_mode) -> Tensor",
     P::kDivMode, OpKind::Div},
    {"aten::silu(Tensor self) -> Tensor", P::kSelfTyped, OpKind::Silu},
    {"aten::hardsigmoid(Tensor self) -> Tensor", P::kSelfTyped, OpKind::Hardsigmoid},
    {"aten::hardswish(Tensor self) -> Tensor", P::kSelfTyped, OpKind::Hardswish},
    {"aten::hardtanh(Tensor self, Scalar min_val=-1, Scalar max_val=1) -> Tensor", P::kSelfTyped,
     OpKind::Hardtanh},
    {"aten::leaky_relu(Tensor self, Scalar negative_slope=0.01) -> Tensor", P::kSelfTyped,
     OpKind::LeakyRelu},
    {"aten::elu(Tensor self, Scalar alpha=1, Scalar scale=1, Scalar input_scale=1) -> Tensor",
     P::kSelfTyped, OpKind::Elu},
    {"aten::softplus(Tensor self, Scalar beta=1, Scalar threshold=20) -> Tensor", P::kSelfTyped,
     OpKind::Softplus},
    {"aten::mish(Tensor self) -> Tensor", P::kSelfTyped, OpKind::Mish},
    {"aten::threshold(Tensor self, Scalar threshold, Scalar value) -> Tensor", P::kSelfTyped,
     OpKind::Threshold},
    {"aten::gelu(Tensor self, *, str approximate='none') -> Tensor", P::kGelu, OpKind::GeluErf},
    {"aten::gelu_backward(Tensor grad_output, Tensor self, *, str approximate='none') -> Tensor",
     P::kGeluBackward, OpKind::GeluBackwardErf},
    {"aten::native_dropout_backward(Tensor grad_output, Tensor mask, float scale) -> Tensor",
     P::kDropoutBackward, OpKind::MaskedScale},
    {"aten::lerp.Scalar(Tensor self, Tensor end, Scalar weight) -> Tensor", P::kPromoteAll,
     OpKind::Lerp},
    {"aten::lerp.Tensor(Tensor self, Tensor end, Tensor weight) -> Tensor", P::kPromoteAll,
     OpKind::Lerp},
    {"aten::addcmul(Tensor self, Tensor tensor1, Tensor tensor2, *, Scalar value=1) -> Tensor",
     P::kPromoteAll, OpKind::Addcmul},
    {"aten::addcdiv(Tensor self, Tensor tensor1, Tensor tensor2, *, Scalar value=1) -> Tensor",
     P::kPromoteAll, OpKind::Addcdiv},
    {"aten::type_as(Tensor self, Tensor other) -> Tensor", P::kTypeAs, OpKind::Add},
    {"aten::floor_divide(Tensor self, Tensor other) -> Tensor", P::kFloorDivide, OpKind::DivFloor},
    {"aten::floor_divide.Scalar(Tensor self, Scalar other) -> Tensor", P::kFloorDivide,
     OpKind::DivFloor},
    {"aten::bitwise_and.Tensor(Tensor self, Tensor other) -> Tensor", P::kBinary, OpKind::BitAnd},
    {"aten::bitwise_and.Scalar(Tensor self, Scalar other) -> Tensor", P::kBinary, OpKind::BitAnd},
    {"aten::__and__.Tensor(Tensor self, Tensor other) -> Tensor", P::kBinary, OpKind::BitAnd},
    {"aten::__and__.Scalar(Tensor self, Scalar other) -> Tensor", P::kBinary, OpKind::BitAnd},
    {"aten::bitwise_or.Tensor(Tensor self, Tensor other) -> Tensor", P::kBinary, OpKind::BitOr},
    {"aten::bitwise_or.Scalar(Tensor self, Scalar other) -> Tensor", P::kBinary, OpKind::BitOr},
    {"aten::__or__.Tensor(Tensor self, Tensor other) -> Tensor", P::kBinary, OpKind::BitOr},
    {"aten::__or__.Scalar(Tensor self, Scalar other) -> Tensor", P::kBinary, OpKind::BitOr},
    {"aten::bitwise_xor.Tensor(Tensor self, Tensor other) -> Tensor", P::kBinary, OpKind::BitXor},
    {"aten::bitwise_xor.Scalar(Tensor self, Scalar other) -> Tensor", P::kBinary, OpKind::BitXor},
    {"aten::__xor__.Tensor(Tensor self, Tensor other) -> Tensor", P::kBinary, OpKind::BitXor},
    {"aten::__xor__.Scalar(Tensor self, Scalar other) -> Tensor", P::kBinary, OpKind::BitXor},
    {"aten::bitwise_not(Tensor self) -> Tensor", P::kUnary, OpKind::BitNot},
    {"aten::__lshift__.Tensor(Tensor self, Tensor other) -> Tensor", P::kBinary, OpKind::LeftShift},
    {"aten::__lshift__.Scalar(Tensor self, Scalar other) -> Tensor", P::kBinary, OpKind::LeftShift},
    {"aten::bitwise_left_shift.Tensor(Tensor self, Tensor other) -> Tensor", P::kBinary,
     OpKind::LeftShift},
    {"aten::bitwise_left_shift.Tensor_Scalar(Tensor self, Scalar other) -> Tensor", P::kBinary,
     OpKind::LeftShift},
    {"aten::__rshift__.Tensor(Tensor self, Tensor other) -> Tensor", P::kBinary,
     OpKind::RightShift},
    {"aten::__rshift__.Scalar(Tensor self, Scalar other) -> Tensor", P::kBinary,
     OpKind::RightShift},
    {"aten::bitwise_right_shift.Tensor(Tensor self, Tensor other) -> Tensor", P::kBinary,
     OpKind::RightShift},
    {"aten::bitwise_right_shift.Tensor_Scalar(Tensor self, Scalar other) -> Tensor", P::kBinary,
     OpKind::RightShift},
    {"aten::logical_and(Tensor self, Tensor other) -> Tensor", P::kLogical, OpKind::LogicalAnd},
    {"aten::logical_or(Tensor self, Tensor other) -> Tensor", P::kLogical, OpKind::LogicalOr},
    {"aten::logical_xor(Tensor self, Tensor other) -> Tensor", P::kLogical, OpKind::LogicalXor},
    {"aten::logical_not(Tensor self) -> Tensor", P::kLogical, OpKind::LogicalNot},
    {"aten::to.dtype(Tensor(a) self, ScalarType dtype, bool non_blocking=False, bool copy=False, "
     "MemoryFormat? memory_format=None) -> Tensor(a)",
     P::kTo, OpKind::Add},
    {"aten::to.device(Tensor(a) self, Device device, ScalarType dtype, bool non_blocking=False, "
     "bool copy=False, MemoryFormat? memory_format=None) -> Tensor(a)",
     P::kToDevice, OpKind::Add},
    {"aten::to.prim_Device(Tensor(a) self, Device? device, int? dtype=None, bool "
     "non_blocking=False, bool copy=False) -> Tensor(a|b)",
     P::kToDevice, OpKind::Add},
    {"aten::_autocast_to_reduced_precision(Tensor(a) self, bool cuda_enabled, bool cpu_enabled, "
     "ScalarType cuda_dtype, ScalarType cpu_dtype) -> Tensor(a)",
     P::kAutocastReduced, OpKind::Add},
    {"aten::_autocast_to_full_precision(Tensor(a) self, bool cuda_enabled, bool cpu_enabled) -> "
     "Tensor(a)",
     P::kAutocastFull, OpKind::Add},
    {"aten::rand_like(Tensor self, *, ScalarType? dtype=None, Layout? layout=None, Device? "
     "device=None, bool? pin_memory=None, MemoryFormat? memory_format=None) -> Tensor",
     P::kRandLike, OpKind::RandUniform},
};

using FusibleOpIndex = std::unordered_map<c10::Symbol, std::vector<FusibleOp>>;

const FusibleOpIndex& fusibleOpIndex() {
  static const FusibleOpIndex index = [] {
    FusibleOpIndex result;
    for (const SchemaEntry& entry : kSchemas) {
      c10::FunctionSchema schema = torch::jit::parseSchema(entry.schema);
      const c10::Symbol kind = c10::Symbol::fromQualString(schema.name());
      result[kind].push_back(FusibleOp{std::move(schema), entry.pattern, entry.op});
    }
    return result;
  }();
  return index;
}

const OpInfo& info(OpKind kind) {
  return kOpInfos[static_cast<size_t>(kind)];
}

}  // namespace

const char* opName(OpKind kind) {
  return info(kind).name;
}
int opArity(OpKind kind) {
  return info(kind).arity;
}
const char* opSpelling(OpKind kind) {
  return info(kind).spelling;
}
bool opReturnsBool(OpKind kind) {
  return info(kind).returns_bool;
}

OpDomain opDomain(OpKind kind) {
  return info(kind).domain;
}

bool opSupportsDtype(OpKind op, c10::ScalarType dtype) {
  const bool is_float = dtype == c10::ScalarType::Float || dtype == c10::ScalarType::Double ||
                        dtype == c10::ScalarType::Half || dtype == c10::ScalarType::BFloat16;
  const bool is_bool = dtype == c10::ScalarType::Bool;
  const bool is_integer = !is_bool && c10::isIntegralType(dtype, /*includeBool=*/false);
  switch (opDomain(op)) {
    case OpDomain::kFloat:
      return is_float;
    case OpDomain::kNumeric:
      return is_float || is_integer;
    case OpDomain::kAny:
      return is_float || is_integer || is_bool;
    case OpDomain::kIntegral:
      return is_integer || is_bool;
    case OpDomain::kInteger:
      return is_integer;
  }
  return false;
}

const FusibleOp* findFusibleOp(const torch::jit::Node* node) {
  const FusibleOpIndex& index = fusibleOpIndex();
  auto it = index.find(node->kind());
  if (it == index.end()) return nullptr;
  for (const FusibleOp& op : it->second) {
    if (node->matches(op.schema)) return &op;
  }
  return nullptr;
}

}  // namespace torch_fuser
