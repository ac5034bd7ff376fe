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

// The graph the interpreter runs for a fusion subgraph, in standard ops — what the user
// wrote: joins as aten::cat / aten::stack, and a chunk the pass pushed through ops (see
// KernelTensor) undone into the chunk of the value computed whole. The executor's
// fallback function of a guarded group (guards.h) runs it too, so autodiff and this pass
// see the original program there.
std::shared_ptr<torch::jit::Graph> fallbackGraph(torch::jit::Graph& subgraph);

}  // namespace torch_fuser
