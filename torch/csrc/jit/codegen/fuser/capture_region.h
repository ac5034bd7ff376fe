// CUDA graph capture, the pass's side: moves the longest run of top-level nodes that a
// CUDA graph can replay into one fuser::CapturedGraph node (captured_graph.h runs it).
//
// A scripted RNN loop is host-bound: per time step the interpreter dispatches a few
// matmuls, views and a fused cell, each costing microseconds of host time against a few
// microseconds of GPU work. Replaying the whole loop as one CUDA graph removes that cost.
// A run qualifies when what it launches depends only on what the executor's guard checks
// on each call (the inputs' dtypes, sizes, strides, devices and scalar values): device
// work on its inputs (matmuls, views, reductions, our fusion groups), host bookkeeping on
// sizes and lists, and control flow over those. A frozen convolutional network (weights
// as CUDA tensor constants, read where they lie; in-place activations and residual adds)
// qualifies whole: it is host-bound too at inference batch sizes. Nodes that read tensor
// data on the host, write to anything but lists built inside the run and tensors the run
// allocated itself, create tensors from nothing or draw random numbers end a run.
// Profiles must place the run's tensors on CUDA and none on the CPU; and it must launch
// enough work to pay for the copies of a replay (a loop, or at least kMinLaunches kernels).
#pragma once

#include <ATen/core/interned_strings.h>

#include <memory>

namespace torch {
namespace jit {
struct Graph;
}  // namespace jit
}  // namespace torch

namespace torch_fuser {

class ProfileFacts;

// fuser::CapturedGraph: its subgraph in attr::Subgraph, its inputs and outputs those of
// the run it replaced.
c10::Symbol capturedGraphKind();

// fuser::CaptureBarrier: first node of each fallback inlined into a captured subgraph. The
// pass does not vet what a fallback runs (the executor's fallback for failed
// specializations can be a whole unspecialized graph): the barrier fails a capture that
// reaches it, and the node then interprets that signature.
c10::Symbol captureBarrierKind();

// Returns whether a run was wrapped. `graph` is the pass's, after groups are guarded; the
// prim::FallbackGraph nodes in the run are inlined behind a barrier (the executor turns
// only those it can see into functions).
bool wrapCapturableRun(const std::shared_ptr<torch::jit::Graph>& graph, const ProfileFacts& facts);

}  // namespace torch_fuser
