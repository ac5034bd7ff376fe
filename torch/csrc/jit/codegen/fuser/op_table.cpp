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
};

const OpInfo kOpInfos[] = {
#define TORCH_FUSER_OP_INFO(name, arity, spelling, returns_bool) \
  {#name, arity, spelling, returns_bool},
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
    {"aten::maximum(Tensor self, Tensor other) -> Tensor", P::kBinary, OpKind::Maximum},
    {"aten::minimum(Tensor self, Tensor other) -> Tensor", P::kBinary, OpKind::Minimum},
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
