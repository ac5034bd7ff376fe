// What a fusion group's subgraph holds besides elementwise ops, and how the kernel sees
// it: the tensors it reads (inputs, chunk pieces and views of inputs, see KernelTensor),
// the joins it writes (prim::FusedConcat, fuser::FusedStack), the _grad_sum_to_size
// reductions at its outputs, and the values it writes (kernelOutputs). Shared by the
// pass, lowering, KernelSpec and the fallback.
#pragma once

#include "torch/csrc/jit/codegen/fuser/view_step.h"

#include <ATen/core/interned_strings.h>

#include <cstdint>
#include <vector>

namespace torch {
namespace jit {
struct Graph;
struct Node;
struct Value;
}  // namespace jit
}  // namespace torch

namespace torch_fuser {

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
// A join (prim::FusedConcat) of the pieces a push computes of a value the group also
// returns whole (an intermediate autodiff keeps, the chunked value read elsewhere too):
// it carries the push's id and pushedWholeAttr(), and the fallback computes it whole.
c10::Symbol pushedWholeAttr();
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

}  // namespace torch_fuser
