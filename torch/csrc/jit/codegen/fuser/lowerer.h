// The Lowerer: a fusion subgraph and one call's ArgSpec -> a LoweredKernel (lowering.h
// says what it decides). Internal to lowering: lowering.cpp holds the driver (inputs,
// constants, nodes, outputs) and the value plumbing (casts, promotion, emitting ops),
// lowering_patterns.cpp one method per LoweringPattern of the op table.
#pragma once

#include "torch/csrc/jit/codegen/fuser/lowering.h"
#include "torch/csrc/jit/codegen/fuser/type_rules.h"

#include <c10/core/Device.h>

#include <initializer_list>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace torch {
namespace jit {
struct Node;
}  // namespace jit
}  // namespace torch

namespace torch_fuser {
namespace lowering_detail {

using c10::ScalarType;
using torch::jit::Node;
using torch::jit::Value;

// Thrown inside lowering for input this version does not compile; becomes the reason.
struct Unsupported {
  std::string reason;
};

// The C type arithmetic of a compute dtype happens in: reduced-precision floats compute
// in float (each intermediate stays float; only outputs round to half / bfloat16).
inline ScalarType arithmeticType(ScalarType compute) {
  return (compute == ScalarType::Half || compute == ScalarType::BFloat16) ? ScalarType::Float
                                                                          : compute;
}

class Lowerer {
 public:
  explicit Lowerer(const ArgSpec& spec) : spec_(spec) {}

  LoweredKernel run(const torch::jit::Graph& graph);

 private:
  static constexpr int kNone = -1;  // an absent optional operand (a None constant)

  struct Promotion {
    OperandCategory category;
    ScalarType dtype;  // what the value promotes as
  };

  int valueOf(const Value* v) const;

  int add(Stmt stmt, Promotion promotion);

  // A load of kernel tensor `index`.
  int loadTensor(size_t index);

  void lowerInputs(const torch::jit::Graph& graph);

  void lowerConstant(const Node* node);

  int cast(int value, ScalarType to);

  // A Python int used in a narrower integer dtype: eager's handling differs across
  // versions and ops (wrap, raise), so the interpreter decides.
  static void requireLiteralFits(const Stmt& value, ScalarType to);

  ScalarType promote(std::initializer_list<int> values) const;

  int emit(OpKind op, ScalarType compute, std::initializer_list<int> operands);

  // Emits `op(operands...)` with every operand cast to `compute`.
  int emit(OpKind op, ScalarType compute, const std::vector<int>& operands);

  ScalarType floatIfIntegral(ScalarType t) const;

  static bool isLiteralOne(const Stmt& s);

  void lowerOutputLayouts();

  // The pieces of a concat output, each stored in the dtype eager's cat gives them all.
  void lowerConcatOutput(const Node* concat);

  void lowerNode(const Node* node);

  // The string constant passed as `v` ("" for None).
  std::string stringArgument(const Value* v) const;

  // gelu's and gelu_backward's `approximate` argument: true for 'tanh', false for 'none';
  // any other value is unsupported (eager raises).
  bool geluUsesTanh(const Node* node, size_t index) const;

  // The promoted dtype of the tensor operands among `values` (scalars are cast to it).
  ScalarType promoteTensors(const std::vector<int>& values) const;

  int lowerPattern(const FusibleOp& fusible, const Node* node, const std::vector<int>& in);

  // `value` rounded to a float16/bfloat16 `compute` dtype where eager has it rounded: for
  // the operands of operations whose result steps (comparisons, rounding, fmod, ...).
  int roundedTo(int value, ScalarType compute);

  // `lhs op alpha * rhs`, in the promoted dtype of lhs and rhs.
  int lowerAlpha(OpKind op, int lhs, int rhs, int alpha);

  // A binary op; integer operands use the op's integer twin (division by a non-zero
  // constant only: eager raises on a zero divisor, which a kernel cannot).
  int lowerBinary(OpKind op, int lhs, int rhs);
  // dividend / divisor in floating point, as eager's kernel on this device computes it.
  int lowerTrueDivide(int dividend, int divisor);

  static OpKind integerTwin(OpKind op);

  void requireNonZeroConstant(int divisor) const;

  // self ** exponent for a Scalar exponent: integer tensors need a constant exponent >= 0
  // (eager raises for negative ones).
  int lowerPowScalar(int self, int exponent);

  // native_dropout_backward: grad * mask * scale in grad's floating dtype, mask bool (eager's
  // CUDA kernel rejects others, so they fall back).
  int lowerDropoutBackward(int grad, int mask, int scale);

  // self converted to `target`, rounding to it even for float16/bfloat16 (an explicit
  // conversion is the user's rounding, not an intermediate).
  int convert(int self, ScalarType target);

  // to(self, dtype, non_blocking, copy, memory_format): always a fresh tensor here.
  int lowerTo(const std::vector<int>& in);

  // to(self, device, dtype?, non_blocking, copy[, memory_format]) onto the kernel's own
  // device (the pass refuses others; a call on another device lowers anew and fails).
  int lowerToDevice(const Node* node, const std::vector<int>& in);

  bool isKernelDevice(c10::Device device) const;

  // Autocast's casts (what scripted code under torch.autocast calls around ops): reduced
  // converts float32 to the enabled device's reduced dtype, full converts float16 and
  // bfloat16 to float32; either leaves other dtypes, and devices autocast is off for, as
  // they are (eager returns self; a kernel writes a copy).
  int lowerAutocast(LoweringPattern pattern, const std::vector<int>& in);

  bool literalBool(int v) const;

  ScalarType literalDtype(int v) const;

  int lowerRandLike(const std::vector<int>& in);

  int lowerClamp(int self, int min, int max);

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

}  // namespace lowering_detail
}  // namespace torch_fuser
