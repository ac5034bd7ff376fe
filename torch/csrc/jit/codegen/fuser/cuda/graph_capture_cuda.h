// CUDA graph capture and replay for fuser::CapturedGraph (captured_graph.h), on ATen's
// CUDAGraph: a private memory pool per capture, captured in this thread's capture mode on
// a stream of torch_fuser's own (after one uncaptured run there, so lazily created state
// such as cuBLAS's workspace for that stream exists before the capture), replayed on the
// stream that was current when it was captured. Only this backend's .cpp knows whether
// the build has CUDA; elsewhere capture is unavailable.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace torch_fuser {
namespace cuda {

// One captured CUDA graph and the memory pool it allocated from.
class CapturedLaunches {
 public:
  virtual ~CapturedLaunches() = default;
  // Launches the captured work on the current stream.
  virtual void replay() = 0;
};

// Whether graphs can be captured here (a CUDA build of torch).
bool canCaptureGraphs();

// Whether `device`'s current stream is being captured (by the user's torch.cuda.graph).
bool isCapturing(c10::Device device);

// Whether this thread is inside capture() (not a capture of the user's).
bool insideCapture();

// An identifier of `device`'s current stream.
int64_t currentStream(c10::Device device);

// Runs `body` once on torch_fuser's capture stream, then again with that stream capturing
// into a new graph; throws what `body` or the capture threw (the capture ended, nothing
// left half-open). One capture at a time per process.
std::unique_ptr<CapturedLaunches> capture(c10::Device device, const std::function<void()>& body);

// dst[i].copy_(src[i]) for all i, in as few launches as ATen allows.
void copyAll(const std::vector<at::Tensor>& dst, const std::vector<at::Tensor>& src);

}  // namespace cuda
}  // namespace torch_fuser
