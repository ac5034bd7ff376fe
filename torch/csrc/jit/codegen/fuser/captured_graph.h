// CUDA graph capture, the run time's side: the operation of a fuser::CapturedGraph node
// (capture_region.h forms them).
//
// Per signature of the inputs (dtypes, sizes, strides, devices, requires_grad; scalars by
// value) the node runs its subgraph in the interpreter twice, then captures it once into a
// CUDA graph and replays that on every later call. What the kernels read is baked into
// the graph: an input found at the same address on both warm-up calls (a weight) is read
// in place, and the replay requires it there (else it captures again); any other input is
// copied into a buffer of the capture first. Results live in the capture's memory pool,
// which the next replay overwrites, so each call hands out copies — except results that
// are views of an input, handed out as the same view of the caller's input — and host
// values (sizes) as they were at capture. It interprets instead where a capture cannot be
// right or cannot pay: an input on the CPU or a second device, autograd recording (grad
// mode with an input that requires grad), autocast (it picks dtypes per call), a stream
// the user is capturing, another thread replaying the same node, more than kMaxSignatures
// signatures, a kernel of the subgraph still compiling (it would capture the fallback), an
// input read in place that moved more than kMaxRecaptures times, or a capture that failed
// (a synchronizing op, a fallback reached: capture_region.h). The switches that pick the
// kernels cuBLAS and cuDNN launch (TF32, reduced-precision reductions, the preferred BLAS
// library, cuDNN's benchmark and deterministic modes) are part of the signature.
// TORCH_FUSER_CUDA_GRAPHS=0 turns capture off (read on each run of the pass).
#pragma once

#include <torch/csrc/jit/runtime/operator.h>

namespace torch_fuser {

torch::jit::Operation createCapturedGraphOperation(const torch::jit::Node* node);
torch::jit::Operation createCaptureBarrierOperation(const torch::jit::Node* node);

}  // namespace torch_fuser
