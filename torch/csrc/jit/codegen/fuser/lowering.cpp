#include "torch/csrc/jit/codegen/fuser/lowering.h"

#include "torch/csrc/jit/codegen/fuser/input_views.h"

#include "torch/csrc/jit/codegen/fuser/type_rules.h"

#include <torch/csrc/jit/ir/ir.h>

#include <algorithm>
#include <map>
#include <sstream>
#include <unordered_map>

namespace torch_fuser {
namespace {

using c10::ScalarType;
using torch::jit::Node;
using torch::jit::Value;

// Thrown inside lowering for input this version does not compile; becomes the reason.
struct Unsupported {
  std::string reason;
};

}  // namespace

bool isSupportedInputDtype(ScalarType t) {
  switch (t) {
    case ScalarType::Float:
    case ScalarType::Double:
    case ScalarType::Half:
    case ScalarType::BFloat16:
    case ScalarType::Bool:
    case ScalarType::Byte:
    case ScalarType::Char:
    case ScalarType::Short:
    case ScalarType::Int:
    case ScalarType::Long:
      return true;
    default:
      return false;
  }
}

namespace {

// The C type arithmetic of a compute dtype happens in: reduced-precision floats compute
// in float (each intermediate stays float; only outputs round to half / bfloat16).
ScalarType arithmeticType(ScalarType compute) {
  return (compute == ScalarType::Half || compute == ScalarType::BFloat16) ? ScalarType::Float
                                                                          : compute;
}

class Lowerer {
 public:
  explicit Lowerer(const ArgSpec& spec) : spec_(spec) {}

  LoweredKernel run(const torch::jit::Graph& graph) {
    out_.rank = spec_.iterationRank();
    out_.index32 = spec_.index32();
    out_.inputs.assign(spec_.tensors().begin(), spec_.tensors().end());
    out_.scalars.assign(spec_.scalars().begin(), spec_.scalars().end());
    lowerInputs(graph);
    for (const Node* node : graph.nodes()) lowerNode(node);
    for (const Value* output : graph.outputs()) {
      if (isJoin(output->node())) {
        lowerConcatOutput(output->node());
        continue;
      }
      const int id = valueOf(output);
      if (id < 0 || out_.stmts[id].kind == StmtKind::kLiteral ||
          out_.stmts[id].kind == StmtKind::kLoadScalar) {
        throw Unsupported{"an output of the fusion is not a tensor computed by it"};
      }
      // An output is stored in the dtype eager gives it (half results round here).
      const int stored = cast(id, promotions_[id].dtype);
      out_.outputs.push_back(stored);
      out_.output_dtypes.push_back(out_.stmts[stored].dtype);
    }
    lowerOutputLayouts();
    pruneDeadStatements();
    keepExactBeforeDiscontinuities();
    return std::move(out_);
  }

 private:
  static constexpr int kNone = -1;  // an absent optional operand (a None constant)

  struct Promotion {
    OperandCategory category;
    ScalarType dtype;  // what the value promotes as
  };

  int valueOf(const Value* v) const {
    auto it = values_.find(v);
    TORCH_INTERNAL_ASSERT(it != values_.end(), "value %", v->debugName(),
                          " used before its definition in a fusion subgraph");
    return it->second;
  }

  int add(Stmt stmt, Promotion promotion) {
    out_.stmts.push_back(std::move(stmt));
    promotions_.push_back(promotion);
    return static_cast<int>(out_.stmts.size()) - 1;
  }

  // A load of kernel tensor `index`.
  int loadTensor(size_t index) {
    TORCH_INTERNAL_ASSERT(index < spec_.tensors().size(), "ArgSpec has ", spec_.tensors().size(),
                          " tensors, the subgraph more");
    const TensorDesc& desc = spec_.tensors()[index];
    if (!isSupportedInputDtype(desc.dtype)) {
      throw Unsupported{std::string("input dtype ") + c10::toString(desc.dtype) +
                        " is not supported by this version"};
    }
    Stmt stmt;
    stmt.kind = StmtKind::kLoadTensor;
    stmt.input = static_cast<int>(index);
    stmt.dtype = desc.dtype;
    stmt.invariant = desc.layout == TensorLayout::kScalar;
    const Promotion promotion{
        desc.rank == 0 ? OperandCategory::kZeroDim : OperandCategory::kDimensioned, desc.dtype};
    return add(std::move(stmt), promotion);
  }

  void lowerInputs(const torch::jit::Graph& graph) {
    const std::vector<KernelTensor> tensors = kernelTensors(graph);
    for (size_t k = 0; k < tensors.size(); ++k) {
      if (tensors[k].chunk) {
        pieces_[{tensors[k].chunk, tensors[k].piece}] = k;
      } else if (tensors[k].view) {
        views_[tensors[k].view] = k;
      } else {
        direct_[tensors[k].input] = k;
      }
    }
    size_t scalar_index = 0;
    int fslot = 0, islot = 0;
    for (size_t i = 0; i < graph.inputs().size(); ++i) {
      const Value* input = graph.inputs()[i];
      Stmt stmt;
      Promotion promotion;
      if (input->type()->cast<c10::TensorType>()) {
        auto direct = direct_.find(static_cast<int>(i));
        // An input read only through chunks has no load of its own.
        values_[input] = direct == direct_.end() ? kNone : loadTensor(direct->second);
        continue;
      } else if (isSizeList(input)) {
        values_[input] = kNone;  // read by the executor (see isSumToSize)
        continue;
      } else {
        TORCH_INTERNAL_ASSERT(scalar_index < spec_.scalars().size(), "ArgSpec has ",
                              spec_.scalars().size(), " scalars, the subgraph more");
        const ScalarKind kind = spec_.scalars()[scalar_index++];
        stmt.kind = StmtKind::kLoadScalar;
        stmt.dtype = kind == ScalarKind::kDouble ? ScalarType::Double
                     : kind == ScalarKind::kInt  ? ScalarType::Long
                                                 : ScalarType::Bool;
        stmt.input = kind == ScalarKind::kDouble ? fslot++ : islot++;
        stmt.invariant = true;
        promotion = {OperandCategory::kWrappedScalar,
                     wrappedScalarPromotionType(stmt.dtype, spec_.defaultDtype())};
      }
      values_[input] = add(std::move(stmt), promotion);
    }
  }

  void lowerConstant(const Node* node) {
    const Value* output = node->output();
    const c10::IValue value = *torch::jit::toIValue(output);
    if (value.isNone()) {
      values_[output] = kNone;
      return;
    }
    if (value.isString()) {  // an op's mode argument, read by its pattern
      strings_[output] = value.toStringRef();
      values_[output] = kNone;
      return;
    }
    if (value.isDevice()) {  // to()'s target, read by its pattern
      devices_.emplace(output, value.toDevice());
      values_[output] = kNone;
      return;
    }
    if (isSizeList(output)) {  // a _grad_sum_to_size's size, read by the executor
      values_[output] = kNone;
      return;
    }
    Stmt stmt;
    stmt.kind = StmtKind::kLiteral;
    stmt.invariant = true;
    if (value.isDouble()) {
      stmt.literal = value.toDouble();
      stmt.dtype = ScalarType::Double;
    } else if (value.isInt()) {
      stmt.literal = value.toInt();
      stmt.dtype = ScalarType::Long;
    } else if (value.isBool()) {
      stmt.literal = value.toBool();
      stmt.dtype = ScalarType::Bool;
    } else {
      throw Unsupported{"constant of type " + output->type()->str() + " inside a fusion"};
    }
    const Promotion promotion{OperandCategory::kWrappedScalar,
                              wrappedScalarPromotionType(stmt.dtype, spec_.defaultDtype())};
    values_[output] = add(std::move(stmt), promotion);
  }

  int cast(int value, ScalarType to) {
    if (out_.stmts[value].dtype == to) return value;
    requireLiteralFits(out_.stmts[value], to);
    Stmt stmt;
    stmt.kind = StmtKind::kCast;
    stmt.args = {value};
    stmt.dtype = to;
    stmt.invariant = out_.stmts[value].invariant;
    return add(std::move(stmt), promotions_[value]);
  }

  // A Python int used in a narrower integer dtype: eager's handling differs across
  // versions and ops (wrap, raise), so the interpreter decides.
  static void requireLiteralFits(const Stmt& value, ScalarType to) {
    if (value.kind != StmtKind::kLiteral || value.dtype != ScalarType::Long) return;
    if (!c10::isIntegralType(to, /*includeBool=*/false) || to == ScalarType::Long) return;
    const int64_t v = value.literal.toLong();
    const bool fits = to == ScalarType::Byte    ? (v >= 0 && v <= 255)
                      : to == ScalarType::Char  ? (v >= -128 && v <= 127)
                      : to == ScalarType::Short ? (v >= -32768 && v <= 32767)
                                                : (v >= INT32_MIN && v <= INT32_MAX);
    if (!fits) {
      throw Unsupported{"the constant " + std::to_string(v) + " does not fit " + c10::toString(to)};
    }
  }

  ScalarType promote(std::initializer_list<int> values) const {
    c10::SmallVector<PromotionOperand, 3> operands;
    for (int v : values) {
      if (v != kNone) operands.push_back({promotions_[v].dtype, promotions_[v].category});
    }
    return promoteOperands(operands);
  }

  int emit(OpKind op, ScalarType compute, std::initializer_list<int> operands) {
    return emit(op, compute, std::vector<int>(operands));
  }

  // Emits `op(operands...)` with every operand cast to `compute`.
  int emit(OpKind op, ScalarType compute, const std::vector<int>& operands) {
    if (!opSupportsDtype(op, compute)) {
      throw Unsupported{std::string(opName(op)) + " is not defined for " + c10::toString(compute) +
                        " (eager decides: it may raise)"};
    }
    Stmt stmt;
    stmt.kind = StmtKind::kOp;
    stmt.op = op;
    stmt.invariant = true;
    OperandCategory category = OperandCategory::kZeroDim;
    int position = 0;
    for (int v : operands) {
      const bool keep = op == OpKind::Where && position == 0;  // the bool condition
      ScalarType want = arithmeticType(compute);
      if (op == OpKind::PowScalar && position == 1) want = ScalarType::Double;
      const int arg = keep ? v : cast(v, want);
      stmt.args.push_back(arg);
      stmt.invariant = stmt.invariant && out_.stmts[arg].invariant;
      category = std::max(category, promotions_[v].category);
      ++position;
    }
    stmt.dtype = opReturnsBool(op) ? ScalarType::Bool : arithmeticType(compute);
    stmt.fast_math = compute == ScalarType::Half || compute == ScalarType::BFloat16;
    const ScalarType promotes_as = opReturnsBool(op) ? ScalarType::Bool : compute;
    return add(std::move(stmt), Promotion{category, promotes_as});
  }

  ScalarType floatIfIntegral(ScalarType t) const {
    return c10::isIntegralType(t, /*includeBool=*/true) ? spec_.defaultDtype() : t;
  }

  static bool isLiteralOne(const Stmt& s) {
    return s.kind == StmtKind::kLiteral && !s.literal.isBoolean() && s.literal.toDouble() == 1.0;
  }

  void lowerOutputLayouts() {
    const auto& layouts = spec_.outputs();
    if (layouts.empty()) {
      out_.output_layouts.assign(out_.outputs.size(), OutputLayout{});
      return;
    }
    TORCH_INTERNAL_ASSERT(layouts.size() == out_.outputs.size(), "ArgSpec describes ",
                          layouts.size(), " outputs, the kernel writes ", out_.outputs.size());
    out_.output_layouts.assign(layouts.begin(), layouts.end());
  }

  // The pieces of a concat output, each stored in the dtype eager's cat gives them all.
  void lowerConcatOutput(const Node* concat) {
    std::vector<int> pieces;
    for (const Value* v : concat->inputs()) {
      pieces.push_back(valueOf(v));
      const StmtKind kind = out_.stmts[pieces.back()].kind;
      if (kind == StmtKind::kLiteral || kind == StmtKind::kLoadScalar) {
        throw Unsupported{"a piece of a concatenation is not a tensor"};
      }
    }
    const ScalarType dtype = promoteTensors(pieces);
    for (int v : pieces) {
      const int stored = cast(v, dtype);
      out_.outputs.push_back(stored);
      out_.output_dtypes.push_back(out_.stmts[stored].dtype);
    }
  }

  void lowerNode(const Node* node) {
    if (isJoin(node)) return;  // an output, see run()
    if (node->kind() == c10::prim::Constant) {
      lowerConstant(node);
      return;
    }
    if (isSumToSize(node)) {
      values_[node->output()] = valueOf(node->input(0));
      return;
    }
    if (isInputView(node)) {
      // Views of inputs are kernel tensors; a view only other views read is not loaded.
      auto it = views_.find(node);
      const bool of_input =
          node->input(0)->node()->kind() == c10::prim::Param || isInputView(node->input(0)->node());
      if (!of_input) throw Unsupported{"a view of a value computed in the kernel"};
      values_[node->output()] = it == views_.end() ? kNone : loadTensor(it->second);
      return;
    }
    if (node->kind() == c10::prim::ConstantChunk) {
      for (size_t k = 0; k < node->outputs().size(); ++k) {
        auto it = pieces_.find({node, static_cast<int>(k)});
        if (it == pieces_.end()) throw Unsupported{"a chunk of a value computed in the kernel"};
        values_[node->outputs()[k]] = loadTensor(it->second);
      }
      return;
    }
    const FusibleOp* fusible = findFusibleOp(node);
    if (!fusible) {
      throw Unsupported{std::string("node ") + node->kind().toQualString() +
                        " has no entry in the op table"};
    }
    std::vector<int> in;
    for (const Value* v : node->inputs()) in.push_back(valueOf(v));
    values_[node->output()] = lowerPattern(*fusible, node, in);
  }

  // The string constant passed as `v` ("" for None).
  std::string stringArgument(const Value* v) const {
    auto it = strings_.find(v);
    return it == strings_.end() ? std::string() : it->second;
  }

  // The promoted dtype of the tensor operands among `values` (scalars are cast to it).
  ScalarType promoteTensors(const std::vector<int>& values) const {
    c10::SmallVector<PromotionOperand, 4> operands;
    for (int v : values) {
      if (v != kNone && promotions_[v].category != OperandCategory::kWrappedScalar) {
        operands.push_back({promotions_[v].dtype, promotions_[v].category});
      }
    }
    return promoteOperands(operands);
  }

  int lowerPattern(const FusibleOp& fusible, const Node* node, const std::vector<int>& in) {
    const OpKind op = fusible.op;
    switch (fusible.pattern) {
      case LoweringPattern::kUnary:
        return emit(op, promote({in[0]}), {in[0]});
      case LoweringPattern::kUnaryFloat:
        return emit(op, floatIfIntegral(promote({in[0]})), {in[0]});
      case LoweringPattern::kBinary:
        return lowerBinary(op, in[0], in[1]);
      case LoweringPattern::kCompare:
        return emit(op, promote({in[0], in[1]}), {in[0], in[1]});
      case LoweringPattern::kBinaryFloat:
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
      case LoweringPattern::kGelu: {
        const std::string mode = stringArgument(node->input(1));
        if (mode != "none" && mode != "tanh") throw Unsupported{"gelu approximate='" + mode + "'"};
        return emit(mode == "tanh" ? OpKind::GeluTanh : OpKind::GeluErf, promote({in[0]}), {in[0]});
      }
      case LoweringPattern::kDivMode: {
        const std::string mode = stringArgument(node->input(2));
        if (mode.empty())
          return emit(OpKind::Div, floatIfIntegral(promote({in[0], in[1]})), {in[0], in[1]});
        if (mode != "trunc" && mode != "floor")
          throw Unsupported{"div rounding_mode='" + mode + "'"};
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
        return emit(op, compute, {in[0]});
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

  // `lhs op alpha * rhs`, in the promoted dtype of lhs and rhs.
  int lowerAlpha(OpKind op, int lhs, int rhs, int alpha) {
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
    int scaled = rhs;
    if (!isLiteralOne(out_.stmts[alpha])) {
      scaled = emit(OpKind::Mul, compute, {rhs, alpha});
    }
    return emit(op, compute, {lhs, scaled});
  }

  // A binary op; integer operands use the op's integer twin (division by a non-zero
  // constant only: eager raises on a zero divisor, which a kernel cannot).
  int lowerBinary(OpKind op, int lhs, int rhs) {
    const ScalarType compute = promote({lhs, rhs});
    if (!c10::isIntegralType(compute, /*includeBool=*/false)) return emit(op, compute, {lhs, rhs});
    const OpKind integer = integerTwin(op);
    if (integer == OpKind::IDivTrunc || integer == OpKind::IDivFloor ||
        integer == OpKind::IRemainder || integer == OpKind::IFmod) {
      requireNonZeroConstant(rhs);
    }
    return emit(integer, compute, {lhs, rhs});
  }

  static OpKind integerTwin(OpKind op) {
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

  void requireNonZeroConstant(int divisor) const {
    const Stmt& s = out_.stmts[divisor];
    if (s.kind != StmtKind::kLiteral) {
      throw Unsupported{
          "integer division by a value known only at run time (eager raises on zero divisors)"};
    }
    if (s.literal.toDouble() == 0.0) throw Unsupported{"integer division by zero (eager raises)"};
  }

  // self ** exponent for a Scalar exponent: integer tensors need a constant exponent >= 0
  // (eager raises for negative ones).
  int lowerPowScalar(int self, int exponent) {
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

  // self converted to `target`, rounding to it even for float16/bfloat16 (an explicit
  // conversion is the user's rounding, not an intermediate).
  int convert(int self, ScalarType target) {
    if (!isSupportedInputDtype(target)) {
      throw Unsupported{std::string("conversion to ") + c10::toString(target)};
    }
    Stmt stmt;
    stmt.kind = StmtKind::kCast;
    stmt.args = {self};
    stmt.dtype = target;
    stmt.invariant = out_.stmts[self].invariant;
    return add(std::move(stmt), Promotion{promotions_[self].category, target});
  }

  // to(self, dtype, non_blocking, copy, memory_format): always a fresh tensor here.
  int lowerTo(const std::vector<int>& in) {
    if (in.size() > 4 && in[4] != kNone) throw Unsupported{"to() with a memory_format"};
    return convert(in[0], literalDtype(in[1]));
  }

  // to(self, device, dtype?, non_blocking, copy[, memory_format]) onto the kernel's own
  // device (the pass refuses others; a call on another device lowers anew and fails).
  int lowerToDevice(const Node* node, const std::vector<int>& in) {
    const auto target = devices_.find(node->input(1));
    if (target != devices_.end() && !isKernelDevice(target->second)) {
      throw Unsupported{"to() another device than the kernel's"};
    }
    if (in.size() > 5 && in[5] != kNone) throw Unsupported{"to() with a memory_format"};
    if (in[2] == kNone) return convert(in[0], promotions_[in[0]].dtype);
    return convert(in[0], literalDtype(in[2]));
  }

  bool isKernelDevice(c10::Device device) const {
    if (device.type() != spec_.device().type()) return false;
    return device.is_cpu() || (device.has_index() && device.index() == spec_.device().index());
  }

  // Autocast's casts (what scripted code under torch.autocast calls around ops): reduced
  // converts float32 to the enabled device's reduced dtype, full converts float16 and
  // bfloat16 to float32; either leaves other dtypes, and devices autocast is off for, as
  // they are (eager returns self; a kernel writes a copy).
  int lowerAutocast(LoweringPattern pattern, const std::vector<int>& in) {
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

  bool literalBool(int v) const {
    const Stmt& stmt = out_.stmts[v];
    if (stmt.kind != StmtKind::kLiteral) throw Unsupported{"a non-constant flag"};
    return stmt.literal.toBool();
  }

  ScalarType literalDtype(int v) const {
    const Stmt& stmt = out_.stmts[v];
    if (stmt.kind != StmtKind::kLiteral) throw Unsupported{"a non-constant dtype"};
    return static_cast<ScalarType>(stmt.literal.toLong());
  }

  int lowerRandLike(const std::vector<int>& in) {
    if (!spec_.device().is_cuda()) {
      throw Unsupported{
          "rand_like is fused on CUDA only (eager's CPU generator is another stream)"};
    }
    for (size_t i = 2; i < in.size(); ++i) {  // layout, device, pin_memory, memory_format
      if (in[i] != kNone)
        throw Unsupported{"rand_like with layout/device/pin_memory/memory_format"};
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
    const OperandCategory category =
        std::max(OperandCategory::kZeroDim, promotions_[in[0]].category);
    return add(std::move(stmt), Promotion{category, dtype});
  }

  int lowerClamp(int self, int min, int max) {
    if (min == kNone && max == kNone) {
      throw Unsupported{"clamp() with neither min nor max (eager raises)"};
    }
    const ScalarType compute = promote({self, min, max});
    int result = self;
    if (min != kNone) result = emit(OpKind::Maximum, compute, {result, min});
    if (max != kNone) result = emit(OpKind::Minimum, compute, {result, max});
    return result;
  }

  // Approximate math (TfFastMath, 16-bit compute) is safe only where its error vanishes
  // in the final 16-bit rounding. A value that reaches a discontinuous operation through
  // any chain — rounding, comparisons, sign, modulo, pow, atan2's branch cut, lgamma's
  // poles, a conversion to an integer — is computed exactly: one float ulp there moves
  // floor(x / x) from 1 to 0.
  static bool isDiscontinuous(const Stmt& stmt) {
    if (stmt.kind == StmtKind::kCast) return !c10::isFloatingType(stmt.dtype);
    if (stmt.kind != StmtKind::kOp) return false;
    if (opReturnsBool(stmt.op)) return true;
    switch (stmt.op) {
      case OpKind::Ceil:
      case OpKind::Floor:
      case OpKind::Round:
      case OpKind::Trunc:
      case OpKind::Frac:
      case OpKind::Sign:
      case OpKind::Fmod:
      case OpKind::Remainder:
      case OpKind::DivTrunc:
      case OpKind::DivFloor:
      case OpKind::Threshold:
      case OpKind::Pow:     // a negative base: integral exponents only
      case OpKind::Atan2:   // the branch cut along negative x
      case OpKind::Lgamma:  // poles at the non-positive integers
        return true;
      default:
        return false;
    }
  }

  void keepExactBeforeDiscontinuities() {
    std::vector<bool> exact(out_.stmts.size(), false);
    for (size_t id = out_.stmts.size(); id-- > 0;) {
      Stmt& stmt = out_.stmts[id];
      if (exact[id]) stmt.fast_math = false;
      if (!exact[id] && !isDiscontinuous(stmt)) continue;
      for (int arg : stmt.args) exact[arg] = true;
    }
  }

  // Drops statements no output depends on (an alpha of 1, an unused input) and renumbers
  // the rest in order, so the printed source names only what it computes.
  void pruneDeadStatements() {
    std::vector<bool> live(out_.stmts.size(), false);
    for (int id : out_.outputs) live[id] = true;
    for (size_t id = out_.stmts.size(); id-- > 0;) {
      if (!live[id]) continue;
      for (int arg : out_.stmts[id].args) live[arg] = true;
    }
    std::vector<int> renumbered(out_.stmts.size(), -1);
    std::vector<Stmt> kept;
    for (size_t id = 0; id < out_.stmts.size(); ++id) {
      if (!live[id]) continue;
      Stmt stmt = std::move(out_.stmts[id]);
      for (int& arg : stmt.args) arg = renumbered[arg];
      renumbered[id] = static_cast<int>(kept.size());
      kept.push_back(std::move(stmt));
    }
    out_.stmts = std::move(kept);
    for (int& id : out_.outputs) id = renumbered[id];
  }

  const ArgSpec& spec_;
  LoweredKernel out_;
  std::vector<Promotion> promotions_;
  std::unordered_map<const Value*, int> values_;
  std::unordered_map<const Value*, std::string> strings_;
  std::unordered_map<const Value*, c10::Device> devices_;
  std::map<int, size_t> direct_;                          // input -> kernel tensor
  std::map<std::pair<const Node*, int>, size_t> pieces_;  // chunk piece -> kernel tensor
  std::map<const Node*, size_t> views_;                   // input view -> kernel tensor
};

}  // namespace

c10::Symbol fusedStackKind() {
  static const c10::Symbol kind = c10::Symbol::fromQualString("fuser::FusedStack");
  return kind;
}

bool isJoin(const torch::jit::Node* node) {
  return node->kind() == c10::prim::FusedConcat || node->kind() == fusedStackKind();
}

bool isSumToSize(const torch::jit::Node* node) {
  return node->kind() == c10::aten::_grad_sum_to_size;
}

bool isSizeList(const torch::jit::Value* v) {
  c10::TypePtr type = v->type();
  if (const auto optional = type->cast<c10::OptionalType>()) type = optional->getElementType();
  const auto list = type->cast<c10::ListType>();
  return list && list->getElementType()->kind() == c10::TypeKind::IntType;
}

std::vector<const Value*> kernelOutputs(const torch::jit::Graph& subgraph) {
  std::vector<const Value*> out;
  for (const Value* output : subgraph.outputs()) {
    if (isJoin(output->node())) {
      for (const Value* piece : output->node()->inputs()) out.push_back(piece);
    } else {
      out.push_back(output);
    }
  }
  return out;
}

c10::Symbol pushedChunkRankAttr() {
  static const c10::Symbol symbol = c10::Symbol::attr("tf_chunked_rank");
  return symbol;
}

c10::Symbol pushedChunkIdAttr() {
  static const c10::Symbol symbol = c10::Symbol::attr("tf_push");
  return symbol;
}

c10::Symbol pushedPieceAttr() {
  static const c10::Symbol symbol = c10::Symbol::attr("tf_piece");
  return symbol;
}

namespace {

// The views of `v` (a view of input `input` reached through `steps`) that anything but
// views reads, depth first in use order.
void collectViews(const Value* v, int input, std::vector<ViewStep>& steps,
                  std::vector<KernelTensor>& out) {
  std::vector<const Node*> seen;
  for (const torch::jit::Use& use : v->uses()) {
    const c10::optional<ViewStep> step = inputViewStep(use.user);
    if (!step || std::find(seen.begin(), seen.end(), use.user) != seen.end()) continue;
    seen.push_back(use.user);
    steps.push_back(*step);
    const Value* viewed = use.user->output();
    const bool read = std::any_of(viewed->uses().begin(), viewed->uses().end(),
                                  [](const torch::jit::Use& u) { return !isInputView(u.user); });
    if (read) {
      KernelTensor tensor{input};
      tensor.view = use.user;
      tensor.views = steps;
      out.push_back(std::move(tensor));
    }
    collectViews(viewed, input, steps, out);
    steps.pop_back();
  }
}

}  // namespace

std::vector<KernelTensor> kernelTensors(const torch::jit::Graph& subgraph) {
  std::vector<KernelTensor> out;
  for (size_t i = 0; i < subgraph.inputs().size(); ++i) {
    const Value* input = subgraph.inputs()[i];
    if (!input->type()->cast<c10::TensorType>()) continue;
    std::vector<const Node*> chunks;
    bool direct = input->uses().empty();
    for (const torch::jit::Use& use : input->uses()) {
      if (use.user->kind() == c10::prim::ConstantChunk) {
        if (std::find(chunks.begin(), chunks.end(), use.user) == chunks.end())
          chunks.push_back(use.user);
      } else if (!isInputView(use.user)) {
        direct = true;
      }
    }
    if (direct) out.push_back(KernelTensor{static_cast<int>(i)});
    std::vector<ViewStep> steps;
    collectViews(input, static_cast<int>(i), steps, out);
    std::sort(chunks.begin(), chunks.end(),
              [](const Node* a, const Node* b) { return b->isAfter(a); });
    for (const Node* chunk : chunks) {
      for (size_t k = 0; k < chunk->outputs().size(); ++k) {
        KernelTensor piece{static_cast<int>(i), chunk, static_cast<int>(k),
                           chunk->i(c10::attr::chunks), chunk->i(c10::attr::dim)};
        if (chunk->hasAttribute(pushedChunkIdAttr())) {
          piece.push = chunk->i(pushedChunkIdAttr());
          piece.rank = chunk->i(pushedChunkRankAttr());
        }
        out.push_back(piece);
      }
    }
  }
  return out;
}

LoweringResult lowerFusion(const torch::jit::Graph& subgraph, const ArgSpec& spec) {
  LoweringResult result;
  try {
    result.kernel = std::make_unique<LoweredKernel>(Lowerer(spec).run(subgraph));
  } catch (const Unsupported& unsupported) {
    result.failure = unsupported.reason;
  }
  return result;
}

}  // namespace torch_fuser
