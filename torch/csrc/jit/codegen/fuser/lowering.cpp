#include "torch/csrc/jit/codegen/fuser/lowering.h"

#include "torch/csrc/jit/codegen/fuser/input_views.h"
#include "torch/csrc/jit/codegen/fuser/lowerer.h"
#include "torch/csrc/jit/codegen/fuser/statement_passes.h"

#include <torch/csrc/jit/ir/ir.h>

#include <algorithm>

namespace torch_fuser {

bool isSupportedInputDtype(c10::ScalarType t) {
  switch (t) {
    case c10::ScalarType::Float:
    case c10::ScalarType::Double:
    case c10::ScalarType::Half:
    case c10::ScalarType::BFloat16:
    case c10::ScalarType::Bool:
    case c10::ScalarType::Byte:
    case c10::ScalarType::Char:
    case c10::ScalarType::Short:
    case c10::ScalarType::Int:
    case c10::ScalarType::Long:
      return true;
    default:
      return false;
  }
}

namespace lowering_detail {

LoweredKernel Lowerer::run(const torch::jit::Graph& graph) {
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
  pruneDeadStatements(out_);
  keepExactBeforeDiscontinuities(out_);
  return std::move(out_);
}

int Lowerer::valueOf(const Value* v) const {
  auto it = values_.find(v);
  TORCH_INTERNAL_ASSERT(it != values_.end(), "value %", v->debugName(),
                        " used before its definition in a fusion subgraph");
  return it->second;
}

int Lowerer::add(Stmt stmt, Promotion promotion) {
  out_.stmts.push_back(std::move(stmt));
  promotions_.push_back(promotion);
  return static_cast<int>(out_.stmts.size()) - 1;
}

// A load of kernel tensor `index`.
int Lowerer::loadTensor(size_t index) {
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

void Lowerer::lowerInputs(const torch::jit::Graph& graph) {
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

void Lowerer::lowerConstant(const Node* node) {
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

int Lowerer::cast(int value, ScalarType to) {
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
void Lowerer::requireLiteralFits(const Stmt& value, ScalarType to) {
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

ScalarType Lowerer::promote(std::initializer_list<int> values) const {
  c10::SmallVector<PromotionOperand, 3> operands;
  for (int v : values) {
    if (v != kNone) operands.push_back({promotions_[v].dtype, promotions_[v].category});
  }
  return promoteOperands(operands);
}

int Lowerer::emit(OpKind op, ScalarType compute, std::initializer_list<int> operands) {
  return emit(op, compute, std::vector<int>(operands));
}

// Emits `op(operands...)` with every operand cast to `compute`.
int Lowerer::emit(OpKind op, ScalarType compute, const std::vector<int>& operands) {
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

ScalarType Lowerer::floatIfIntegral(ScalarType t) const {
  return c10::isIntegralType(t, /*includeBool=*/true) ? spec_.defaultDtype() : t;
}

bool Lowerer::isLiteralOne(const Stmt& s) {
  return s.kind == StmtKind::kLiteral && !s.literal.isBoolean() && s.literal.toDouble() == 1.0;
}

void Lowerer::lowerOutputLayouts() {
  const auto& layouts = spec_.outputs();
  if (layouts.empty()) {
    out_.output_layouts.assign(out_.outputs.size(), OutputLayout{});
    return;
  }
  TORCH_INTERNAL_ASSERT(layouts.size() == out_.outputs.size(), "ArgSpec describes ", layouts.size(),
                        " outputs, the kernel writes ", out_.outputs.size());
  out_.output_layouts.assign(layouts.begin(), layouts.end());
}

// The pieces of a concat output, each stored in the dtype eager's cat gives them all.
void Lowerer::lowerConcatOutput(const Node* concat) {
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

void Lowerer::lowerNode(const Node* node) {
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
std::string Lowerer::stringArgument(const Value* v) const {
  auto it = strings_.find(v);
  return it == strings_.end() ? std::string() : it->second;
}

// The promoted dtype of the tensor operands among `values` (scalars are cast to it).
ScalarType Lowerer::promoteTensors(const std::vector<int>& values) const {
  c10::SmallVector<PromotionOperand, 4> operands;
  for (int v : values) {
    if (v != kNone && promotions_[v].category != OperandCategory::kWrappedScalar) {
      operands.push_back({promotions_[v].dtype, promotions_[v].category});
    }
  }
  return promoteOperands(operands);
}

// self converted to `target`, rounding to it even for float16/bfloat16 (an explicit
// conversion is the user's rounding, not an intermediate).
int Lowerer::convert(int self, ScalarType target) {
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

bool Lowerer::literalBool(int v) const {
  const Stmt& stmt = out_.stmts[v];
  if (stmt.kind != StmtKind::kLiteral) throw Unsupported{"a non-constant flag"};
  return stmt.literal.toBool();
}

ScalarType Lowerer::literalDtype(int v) const {
  const Stmt& stmt = out_.stmts[v];
  if (stmt.kind != StmtKind::kLiteral) throw Unsupported{"a non-constant dtype"};
  return static_cast<ScalarType>(stmt.literal.toLong());
}

}  // namespace lowering_detail

LoweringResult lowerFusion(const torch::jit::Graph& subgraph, const ArgSpec& spec) {
  LoweringResult result;
  try {
    result.kernel = std::make_unique<LoweredKernel>(lowering_detail::Lowerer(spec).run(subgraph));
  } catch (const lowering_detail::Unsupported& unsupported) {
    result.failure = unsupported.reason;
  }
  return result;
}

}  // namespace torch_fuser
