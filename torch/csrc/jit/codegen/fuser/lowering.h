// Lowering: a FusionGroup's subgraph + the ArgSpec of one call -> a typed statement list.
//
// Every type decision of a kernel is made here, once, so printers only spell out what
// was decided:
//  * Each operation computes in eager's promoted dtype of its operands (type_rules.h);
//    operands are cast to it first. Ops that always produce floats (div, sigmoid, exp, …)
//    compute integral operands in the default float dtype, as eager does.
//  * Comparisons compute in the promoted dtype and produce bool.
//  * add/sub/rsub with alpha compute `self op alpha * other` (alpha skipped when 1).
//  * clamp / clamp_min / clamp_max are NaN-propagating maximum / minimum; relu likewise,
//    so NaN stays NaN as in eager.
//  * pow(Tensor, Scalar) on floats keeps the exponent in double: the preamble helper takes eager's
//    special cases (0, 1, ±0.5, ±1, 2, 3, -2) on its value.
//  * where requires a bool condition (eager rejects others; they fall back).
//  * gelu_backward computes the derivative of gelu's erf or tanh form from grad and self
//    (promoted together); native_dropout_backward multiplies grad by its bool mask (1 or
//    0, so a dropped Inf or NaN gradient gives NaN as in eager) and the scale.
//  * rand_like lowers on CUDA only: a counter-based Philox4x32-10 stream keyed by the
//    CUDA generator's seed, counters (element index, generator offset); values are
//    k/2^b for b = the result dtype's mantissa bits (24 float, 53 double, 11 half, 8
//    bfloat16), so they lie in [0, 1) in that dtype too. On CPU it is not fused (eager's
//    CPU generator is a different stream).
//  * A value computed only from zero-dim tensors stays zero-dim for later promotion.
//  * prim::ConstantChunk pieces of an input are kernel tensors of their own (see
//    KernelTensor), loaded like any input.
//  * float16 / bfloat16 compute in float: loads widen, intermediates stay float, and
//    only outputs round back (more accurate than eager, which rounds after every op).
//    Their float math may be approximate (TfFastMath, a few float ulp), far below the
//    16-bit rounding every such value gets in eager.
//  * Integers (uint8, int8/16/32/64) and bool compute in their own type with eager's
//    semantics: arithmetic wraps; floor/trunc division, remainder and fmod take the
//    integer twins of the ops (by a non-zero constant only: eager raises on zero
//    divisors, so run-time divisors fall back); pow needs an exponent >= 0.
//    Which ops accept which dtypes is the op table's OpDomain; elsewhere lowering fails
//    with a reason and the call falls back, so eager's own error surfaces.
//  * Explicit conversions (to(dtype), type_as) round to their target, also to
//    float16/bfloat16; float-to-integer conversion truncates like eager's on the device.
//  * A Python int that does not fit a narrower integer dtype falls back.
#pragma once

#include "torch/csrc/jit/codegen/fuser/arg_spec.h"
#include "torch/csrc/jit/codegen/fuser/fusion_subgraph.h"
#include "torch/csrc/jit/codegen/fuser/op_table.h"

#include <c10/core/Scalar.h>
#include <c10/util/SmallVector.h>

#include <memory>
#include <string>
#include <vector>

namespace torch {
namespace jit {
struct Graph;
struct Value;
}  // namespace jit
}  // namespace torch

namespace torch_fuser {

enum class StmtKind : uint8_t { kLoadTensor, kLoadScalar, kLiteral, kCast, kOp };

struct Stmt {
  StmtKind kind;
  OpKind op = OpKind::Add;        // kOp only
  c10::SmallVector<int, 3> args;  // operand statements (kCast, kOp)
  int input = -1;                 // kLoadTensor: tensor index; kLoadScalar: slot in its array
  c10::Scalar literal;            // kLiteral only
  c10::ScalarType dtype;          // the C type the value is held in
  bool invariant = false;         // equal for every element: computed once, outside the loop
  bool fast_math = false;         // kOp: may use TfFastMath (its result rounds to 16 bits)
  int random_bits = 0;            // RandUniform: random bits per value (the dtype's mantissa)
};

struct LoweredKernel {
  std::string name = "fused";       // the fusion's name (KernelSpec::name): CUDA's symbol
  int rank = 0;                     // iteration rank
  bool uses_random = false;         // has RandUniform statements
  bool index32 = false;             // offsets fit 32-bit index math
  std::vector<TensorDesc> inputs;   // tensor inputs, in order
  std::vector<ScalarKind> scalars;  // scalar inputs, in order
  std::vector<Stmt> stmts;          // in dependency order
  std::vector<int> outputs;         // statement of each output
  std::vector<c10::ScalarType> output_dtypes;
  std::vector<OutputLayout> output_layouts;  // per output
};

struct LoweringResult {
  std::unique_ptr<LoweredKernel> kernel;  // null when lowering failed
  std::string failure;                    // why, for the fallback message
};

LoweringResult lowerFusion(const torch::jit::Graph& subgraph, const ArgSpec& spec);

// Tensor dtypes a kernel of this version can read (the pass avoids fusing others).
bool isSupportedInputDtype(c10::ScalarType dtype);

}  // namespace torch_fuser
