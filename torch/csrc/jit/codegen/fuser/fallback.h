// The fallback: a fusion's subgraph run by the TorchScript interpreter, which computes
// exactly what eager computes and raises exactly eager's errors.
#pragma once

#include <ATen/core/stack.h>

#include <memory>

namespace torch {
namespace jit {
struct Graph;
}  // namespace jit
}  // namespace torch

namespace torch_fuser {

class KernelSpec;

void runFallback(KernelSpec& spec, torch::jit::Stack& stack);

// The graph the interpreter runs for a fusion subgraph, in standard ops: the subgraph
// itself, with joins as aten::cat / aten::stack, except that
// the inputs of a chunk the pass pushed through ops (see KernelTensor) are cut by
// fuser::broadcast_chunk — broadcast to the chunked value's shape first, with the dim as
// the user wrote it — which is what chunking the value computes, whatever the shapes.
std::shared_ptr<torch::jit::Graph> fallbackGraph(torch::jit::Graph& subgraph);

}  // namespace torch_fuser
