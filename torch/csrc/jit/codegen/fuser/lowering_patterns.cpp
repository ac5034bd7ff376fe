// One method of the Lowerer per LoweringPattern (op_table.h): how a node's operands map
// onto primitive ops and which dtype each computes in (the rules are in lowering.h).
#include "torch/csrc/jit/codegen/fuser/lowerer.h"

#include <torch/csrc/jit/ir/ir.h>

#include <algorithm>

namespace torch_fuser {
namespace lowering_detail {

int Lowerer::lowerPattern(const FusibleOp& fusible, const Node* node, const std::vector<int>& in) {
  const OpKind op = fusible.op;
  switch (fusible.pattern) {
    case LoweringPattern::kUnary:
      return emit(op, promote({in[0]}), {in[0]});
    case LoweringPattern::kUnaryFloat:
      return emit(op, floatIfIntegral(promote({in[0]})), {in[0]});
    case LoweringPattern::kBinary:
      return lowerBinary(op, in[0], in[1]);
    case LoweringPattern::kCompare: {
      const ScalarType compute = promote({in[0], in[1]});
      return emit(op, compute, {roundedTo(in[0], compute), roundedTo(in[1], compute)});
    }
    case LoweringPattern::kBinaryFloat:
      if (op == OpKind::Div) return lowerTrueDivide(in[0], in[1]);
      return emit(op, floatIfIntegral(promote({in[0], in[1]})), {in[0], in[1]});
    case LoweringPattern::kAlphaBinary:
      return lowerAlpha(op, in[0], in[1], in[2]);
    case LoweringPattern::kReverseAlpha:
      return lowerAlpha(op, in[1], in[0], in[2]);
    case LoweringPattern::kPowScalar:
      return lowerPowScalar(in[0], in[1]);
    case LoweringPattern::kClamp:
      return lowerClamp(in[0], in[1], in[2]);
    case LoweringPattern::kClampMin:
      return lowerClamp(in[0], in[1], kNone);
    case LoweringPattern::kClampMax:
      return lowerClamp(in[0], kNone, in[1]);
    case LoweringPattern::kRandLike:
      return lowerRandLike(in);
    case LoweringPattern::kSelfTyped:
      return emit(op, promote({in[0]}), in);
    case LoweringPattern::kPromoteAll:
      return emit(op, promoteTensors(in), in);
    case LoweringPattern::kGelu:
      return emit(geluUsesTanh(node, 1) ? OpKind::GeluTanh : OpKind::GeluErf, promote({in[0]}),
                  {in[0]});
    case LoweringPattern::kGeluBackward:
      return emit(geluUsesTanh(node, 2) ? OpKind::GeluBackwardTanh : OpKind::GeluBackwardErf,
                  promote({in[0], in[1]}), {in[0], in[1]});
    case LoweringPattern::kDropoutBackward:
      return lowerDropoutBackward(in[0], in[1], in[2]);
    case LoweringPattern::kDivMode: {
      const std::string mode = stringArgument(node->input(2));
      if (mode.empty()) return lowerTrueDivide(in[0], in[1]);
      if (mode != "trunc" && mode != "floor") throw Unsupported{"div rounding_mode='" + mode + "'"};
      return lowerBinary(mode == "trunc" ? OpKind::DivTrunc : OpKind::DivFloor, in[0], in[1]);
    }
    case LoweringPattern::kFloorDivide:
      return lowerBinary(OpKind::DivFloor, in[0], in[1]);
    case LoweringPattern::kTypeAs:
      return convert(in[0], promotions_[in[1]].dtype);
    case LoweringPattern::kTo:
      return lowerTo(in);
    case LoweringPattern::kToDevice:
      return lowerToDevice(node, in);
    case LoweringPattern::kAutocastReduced:
    case LoweringPattern::kAutocastFull:
      return lowerAutocast(fusible.pattern, in);
    case LoweringPattern::kRounding: {
      const ScalarType compute = promote({in[0]});
      // Integers are already whole: eager returns a copy.
      if (c10::isIntegralType(compute, /*includeBool=*/false)) return in[0];
      return emit(op, compute, {roundedTo(in[0], compute)});
    }
    case LoweringPattern::kLogical:
      return emit(op, ScalarType::Bool, in);
    case LoweringPattern::kWhere:
      if (out_.stmts[in[0]].dtype != ScalarType::Bool) {
        throw Unsupported{"where() with a non-bool condition"};
      }
      return emit(op, promote({in[1], in[2]}), {in[0], in[1], in[2]});
  }
  TORCH_INTERNAL_ASSERT(false, "unhandled lowering pattern");
}

// A float16/bfloat16 operation computes in float, and its operands stay float where eager
// has rounded them to 16 bits (a float scalar tensor or Python number it casts to the
// operation's dtype, an intermediate it stored as a 16-bit tensor). Before an operation
// whose result steps (a comparison, floor, fmod, ...) the difference is no longer an ulp:
// its operands are rounded to `compute` first, as eager's are.
int Lowerer::roundedTo(int value, ScalarType compute) {
  if (compute != ScalarType::Half && compute != ScalarType::BFloat16) return value;
  if (out_.stmts[value].dtype == compute) return value;  // a 16-bit load or rounding already
  return convert(value, compute);
}

// `lhs op alpha * rhs`, in the promoted dtype of lhs and rhs.
int Lowerer::lowerAlpha(OpKind op, int lhs, int rhs, int alpha) {
  if (op == OpKind::Sub &&
      (out_.stmts[lhs].dtype == ScalarType::Bool || out_.stmts[rhs].dtype == ScalarType::Bool)) {
    throw Unsupported{"subtraction with a bool operand (eager raises)"};
  }
  const ScalarType compute = promote({lhs, rhs});
  if (!isLiteralOne(out_.stmts[alpha])) {
    if (c10::isIntegralType(compute, /*includeBool=*/true) &&
        out_.stmts[alpha].dtype == ScalarType::Double) {
      throw Unsupported{"a floating point alpha with integral operands (eager raises)"};
    }
    if (compute == ScalarType::Bool) throw Unsupported{"alpha other than 1 with bool operands"};
  }
  if (isLiteralOne(out_.stmts[alpha])) return emit(op, compute, {lhs, rhs});
  // Eager computes self + alpha * other in one op (sub negates alpha), and its float loops
  // round that once: see tf_add_scaled.
  const int signed_alpha = op == OpKind::Sub ? emit(OpKind::Neg, compute, {alpha}) : alpha;
  return emit(OpKind::AddScaled, compute, {lhs, rhs, signed_alpha});
}

// A binary op; integer operands use the op's integer twin (division by a non-zero
// constant only: eager raises on a zero divisor, which a kernel cannot).
int Lowerer::lowerBinary(OpKind op, int lhs, int rhs) {
  const ScalarType compute = promote({lhs, rhs});
  if (!c10::isIntegralType(compute, /*includeBool=*/false)) {
    const bool steps = op == OpKind::Fmod || op == OpKind::Remainder || op == OpKind::DivTrunc ||
                       op == OpKind::DivFloor;
    if (steps) return emit(op, compute, {roundedTo(lhs, compute), roundedTo(rhs, compute)});
    return emit(op, compute, {lhs, rhs});
  }
  const OpKind integer = integerTwin(op);
  if (integer == OpKind::IDivTrunc || integer == OpKind::IDivFloor ||
      integer == OpKind::IRemainder || integer == OpKind::IFmod) {
    requireNonZeroConstant(rhs);
  }
  return emit(integer, compute, {lhs, rhs});
}

OpKind Lowerer::integerTwin(OpKind op) {
  switch (op) {
    case OpKind::DivTrunc:
      return OpKind::IDivTrunc;
    case OpKind::DivFloor:
      return OpKind::IDivFloor;
    case OpKind::Remainder:
      return OpKind::IRemainder;
    case OpKind::Fmod:
      return OpKind::IFmod;
    case OpKind::Pow:
      return OpKind::IPow;
    default:
      return op;
  }
}

void Lowerer::requireNonZeroConstant(int divisor) const {
  const Stmt& s = out_.stmts[divisor];
  if (s.kind != StmtKind::kLiteral) {
    throw Unsupported{
        "integer division by a value known only at run time (eager raises on zero divisors)"};
  }
  if (s.literal.toDouble() == 0.0) throw Unsupported{"integer division by zero (eager raises)"};
}

// self ** exponent for a Scalar exponent: integer tensors need a constant exponent >= 0
// (eager raises for negative ones).
int Lowerer::lowerPowScalar(int self, int exponent) {
  const ScalarType compute = promote({self, exponent});
  if (!c10::isIntegralType(compute, /*includeBool=*/false)) {
    return emit(OpKind::PowScalar, compute, {self, exponent});
  }
  const Stmt& e = out_.stmts[exponent];
  if (e.kind != StmtKind::kLiteral || e.literal.toLong() < 0) {
    throw Unsupported{"integer pow with a negative or run-time exponent"};
  }
  return emit(OpKind::IPow, compute, {self, exponent});
}

bool Lowerer::geluUsesTanh(const Node* node, size_t index) const {
  const std::string mode = stringArgument(node->input(index));
  if (mode != "none" && mode != "tanh") {
    throw Unsupported{std::string(node->kind().toQualString()) + " approximate='" + mode + "'"};
  }
  return mode == "tanh";
}

// The mask multiplies as 1 or 0 (a dropped infinite or NaN gradient gives NaN, as eager's),
// then the scale, both in float for float16/bfloat16 gradients: eager's product with the
// mask is exact in 16 bits, so only the scaled result rounds, there as here.
int Lowerer::lowerDropoutBackward(int grad, int mask, int scale) {
  if (out_.stmts[mask].dtype != ScalarType::Bool) {
    throw Unsupported{"native_dropout_backward with a mask that is not bool"};
  }
  const ScalarType compute = promote({grad, mask});
  if (!c10::isFloatingType(compute)) {
    throw Unsupported{"native_dropout_backward of a gradient that is not floating point"};
  }
  return emit(OpKind::MaskedScale, compute, {grad, mask, scale});
}

// to(self, dtype, non_blocking, copy, memory_format): always a fresh tensor here.
int Lowerer::lowerTo(const std::vector<int>& in) {
  if (in.size() > 4 && in[4] != kNone) throw Unsupported{"to() with a memory_format"};
  return convert(in[0], literalDtype(in[1]));
}

// to(self, device, dtype?, non_blocking, copy[, memory_format]) onto the kernel's own
// device (the pass refuses others; a call on another device lowers anew and fails).
int Lowerer::lowerToDevice(const Node* node, const std::vector<int>& in) {
  const auto target = devices_.find(node->input(1));
  if (target != devices_.end() && !isKernelDevice(target->second)) {
    throw Unsupported{"to() another device than the kernel's"};
  }
  if (in.size() > 5 && in[5] != kNone) throw Unsupported{"to() with a memory_format"};
  if (in[2] == kNone) return convert(in[0], promotions_[in[0]].dtype);
  return convert(in[0], literalDtype(in[2]));
}

bool Lowerer::isKernelDevice(c10::Device device) const {
  if (device.type() != spec_.device().type()) return false;
  return device.is_cpu() || (device.has_index() && device.index() == spec_.device().index());
}

// Autocast's casts (what scripted code under torch.autocast calls around ops): reduced
// converts float32 to the enabled device's reduced dtype, full converts float16 and
// bfloat16 to float32; either leaves other dtypes, and devices autocast is off for, as
// they are (eager returns self; a kernel writes a copy).
int Lowerer::lowerAutocast(LoweringPattern pattern, const std::vector<int>& in) {
  const bool cuda = spec_.device().is_cuda();
  if (!cuda && !spec_.device().is_cpu()) throw Unsupported{"autocast on this device"};
  const bool enabled = literalBool(in[cuda ? 1 : 2]);
  const ScalarType dtype = promotions_[in[0]].dtype;
  if (pattern == LoweringPattern::kAutocastReduced && enabled && dtype == ScalarType::Float) {
    return convert(in[0], literalDtype(in[cuda ? 3 : 4]));
  }
  if (pattern == LoweringPattern::kAutocastFull && enabled &&
      (dtype == ScalarType::Half || dtype == ScalarType::BFloat16)) {
    return convert(in[0], ScalarType::Float);
  }
  return convert(in[0], dtype);
}

int Lowerer::lowerRandLike(const std::vector<int>& in) {
  if (!spec_.device().is_cuda()) {
    throw Unsupported{"rand_like is fused on CUDA only (eager's CPU generator is another stream)"};
  }
  for (size_t i = 2; i < in.size(); ++i) {  // layout, device, pin_memory, memory_format
    if (in[i] != kNone) throw Unsupported{"rand_like with layout/device/pin_memory/memory_format"};
  }
  ScalarType dtype = promotions_[in[0]].dtype;
  if (in[1] != kNone) {
    const Stmt& requested = out_.stmts[in[1]];
    if (requested.kind != StmtKind::kLiteral)
      throw Unsupported{"rand_like with a non-constant dtype"};
    dtype = static_cast<ScalarType>(requested.literal.toLong());
  }
  if (!c10::isFloatingType(dtype)) {
    throw Unsupported{std::string("rand_like of dtype ") + c10::toString(dtype)};
  }
  Stmt stmt;
  stmt.kind = StmtKind::kOp;
  stmt.op = OpKind::RandUniform;
  stmt.dtype = arithmeticType(dtype);
  stmt.random_bits = dtype == ScalarType::Double     ? 53
                     : dtype == ScalarType::Half     ? 11
                     : dtype == ScalarType::BFloat16 ? 8
                                                     : 24;
  out_.uses_random = true;
  const OperandCategory category = std::max(OperandCategory::kZeroDim, promotions_[in[0]].category);
  return add(std::move(stmt), Promotion{category, dtype});
}

// Eager's CUDA kernel divides by a Python number as a multiplication by its reciprocal.
// The reciprocal taken in double and rounded to the compute type is the only reading
// that fits every H200 case seen: x / 0.001 multiplies by exactly 1000 (fuzz seeds
// 1218995, 1235904, 1238315), where a float reciprocal (999.99994) or a division can
// differ by an ulp that a later frac, trunc or comparison magnifies. On CPU, and by a
// tensor, eager divides.
int Lowerer::lowerTrueDivide(int dividend, int divisor) {
  const ScalarType compute = floatIfIntegral(promote({dividend, divisor}));
  const bool by_reciprocal = spec_.device().is_cuda() && c10::isFloatingType(compute) &&
                             promotions_[divisor].category == OperandCategory::kWrappedScalar;
  if (!by_reciprocal) return emit(OpKind::Div, compute, {dividend, divisor});
  const int reciprocal = emit(OpKind::Reciprocal, ScalarType::Double, {divisor});
  return emit(OpKind::Mul, compute, {dividend, reciprocal});
}

int Lowerer::lowerClamp(int self, int min, int max) {
  if (min == kNone && max == kNone) {
    throw Unsupported{"clamp() with neither min nor max (eager raises)"};
  }
  const ScalarType compute = promote({self, min, max});
  int result = self;
  if (min != kNone) result = emit(OpKind::Maximum, compute, {result, min});
  if (max != kNone) result = emit(OpKind::Minimum, compute, {result, max});
  return result;
}

}  // namespace lowering_detail
}  // namespace torch_fuser
