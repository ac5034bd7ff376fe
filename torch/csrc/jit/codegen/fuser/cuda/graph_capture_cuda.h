// CUDA graph capture and replay for fuser::CapturedGraph (captured_graph.h), on ATen's
// CUDAGraph: a private memory pool per capture, captured on a side stream in this
// thread's capture mode, replayed on the caller's current stream. Only this backend's
// .cpp knows whether the build has CUDA; elsewhere capture is unavailable.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <functional>
#include <memory>
#include <vector>

namespace torch_fuser {
namespace cuda {

// One captured CUDA graph and the memory pool it allocated from.
class CapturedLaunches {
 public:
  virtual ~CapturedLaunches() = default;
  // Orders this use after the previous one where that ran on another stream.
  virtual void beginUse() = 0;
  // Launches the captured work on the current stream.
  virtual void replay() = 0;
  // Marks the end of this use (after the copies out of the pool) on the current stream.
  virtual void endUse() = 0;
};

// Whether graphs can be captured here (a CUDA build of torch).
bool canCaptureGraphs();

// Whether `device`'s current stream is being captured (by the user's torch.cuda.graph).
bool isCapturing(c10::Device device);
// The same for the current device (false where this build has no CUDA).
bool currentStreamIsCapturing();

// Runs `body` with the current stream capturing into a new graph; throws what `body` or
// the capture threw (the capture ended, nothing left half-open).
std::unique_ptr<CapturedLaunches> capture(c10::Device device, const std::function<void()>& body);

// dst[i].copy_(src[i]) for all i, in as few launches as ATen allows.
void copyAll(const std::vector<at::Tensor>& dst, const std::vector<at::Tensor>& src);

}  // namespace cuda
}  // namespace torch_fuser
