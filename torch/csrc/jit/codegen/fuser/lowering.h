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
#include "torch/csrc/jit/codegen/fuser/op_table.h"
#include "torch/csrc/jit/codegen/fuser/view_step.h"

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

// A tensor the kernel reads: a fusion input, one piece of a fusion input split by a
// prim::ConstantChunk inside the fusion, or a view of a fusion input (input_views.h) —
// the executor passes pieces and views as strided views of the input, so they cost no
// copy. The kernel's tensors, in order, are kernelTensors(subgraph): for each tensor
// input, itself if anything but chunks and views reads it, then its views that anything
// but views reads (depth first, in use order), then the pieces of each chunk reading it.
//
// A chunk the pass pushed through the ops computing the chunked value (chunk(a + b) =
// chunk(a) + chunk(b), see graph_fuser.cpp) carries the value's rank `rank` (its dim was
// made negative with it) and the id `push` of that rewrite: at run time the largest rank
// among the inputs chunked by one push must be that rank, or the call falls back.
struct KernelTensor {
  int input;                                // index among the subgraph's inputs
  const torch::jit::Node* chunk = nullptr;  // the prim::ConstantChunk, for pieces
  int piece = 0;
  int64_t chunks = 0;
  int64_t dim = 0;
  int64_t rank = 0;   // pushed chunks with a dim given from the left: the value's rank
  int64_t push = -1;  // pushed chunks: the id of the push
  const torch::jit::Node* view = nullptr;  // views: the last view node of the chain
  std::vector<ViewStep> views{};           // views: the steps from the input, in order
};
// Attributes of a pushed prim::ConstantChunk (see KernelTensor). The node computing piece
// k of a push carries that push's id and pushedPieceAttr() = k, so the fallback can
// rebuild the chunk of the whole value (fallback.h).
c10::Symbol pushedChunkRankAttr();
c10::Symbol pushedChunkIdAttr();
c10::Symbol pushedPieceAttr();
std::vector<KernelTensor> kernelTensors(const torch::jit::Graph& subgraph);

// Joins: prim::FusedConcat (an aten::cat moved into the group) and fuser::FusedStack (an
// aten::stack), each with its constant `dim` attribute as written.
c10::Symbol fusedStackKind();
bool isJoin(const torch::jit::Node* node);

// The values a kernel writes, in order: each output of the subgraph, except that an
// output made by a join is written as its pieces, each to its own slice of the joined
// tensor (contiguous, or strided: see OutputLayout).
std::vector<const torch::jit::Value*> kernelOutputs(const torch::jit::Graph& subgraph);

// aten::_grad_sum_to_size(x, size) inside a fusion (what autodiff emits to reduce a
// broadcast gradient): the kernel computes x; the size (an `int[]?` fusion input, or a
// constant) is read per call by the executor. None leaves x as it is; a size at an
// output of the fusion is applied after the kernel (at::sum_to, as eager). The pass keeps
// these nodes at outputs (nothing in the group reads their results); a subgraph that
// reads one anyway runs only calls where its size is None, and falls back otherwise.
bool isSumToSize(const torch::jit::Node* node);
// Whether `v` is an `int[]?` / `int[]` value (a size operand, not a number).
bool isSizeList(const torch::jit::Value* v);

LoweringResult lowerFusion(const torch::jit::Graph& subgraph, const ArgSpec& spec);

// Tensor dtypes a kernel of this version can read (the pass avoids fusing others).
bool isSupportedInputDtype(c10::ScalarType dtype);

}  // namespace torch_fuser
