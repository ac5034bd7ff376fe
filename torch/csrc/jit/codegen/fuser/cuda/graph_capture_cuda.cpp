#include "torch/csrc/jit/codegen/fuser/cuda/graph_capture_cuda.h"

#include <c10/util/Exception.h>

#if TORCH_FUSER_WITH_CUDA
#include <ATen/Functions.h>
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#endif

namespace torch_fuser {
namespace cuda {

#if TORCH_FUSER_WITH_CUDA
namespace {

class CudaCapturedLaunches : public CapturedLaunches {
 public:
  explicit CudaCapturedLaunches(c10::Device device) : device_(device) {}

  void beginUse() override {
    if (used_) done_.block(c10::cuda::getCurrentCUDAStream(device_.index()));
  }
  void replay() override {
    c10::cuda::CUDAGuard guard(device_);
    graph_.replay();
  }
  void endUse() override {
    done_.record(c10::cuda::getCurrentCUDAStream(device_.index()));
    used_ = true;
  }

  at::cuda::CUDAGraph& graph() { return graph_; }

 private:
  c10::Device device_;
  at::cuda::CUDAGraph graph_;
  at::cuda::CUDAEvent done_;
  bool used_ = false;
};

}  // namespace

bool canCaptureGraphs() {
  return true;
}

bool isCapturing(c10::Device device) {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  const cudaError_t error =
      cudaStreamIsCapturing(c10::cuda::getCurrentCUDAStream(device.index()).stream(), &status);
  if (error != cudaSuccess) {
    (void)cudaGetLastError();
    return true;  // unknown: do not start one
  }
  return status != cudaStreamCaptureStatusNone;
}

bool currentStreamIsCapturing() {
  return isCapturing(c10::Device(c10::DeviceType::CUDA, c10::cuda::current_device()));
}

std::unique_ptr<CapturedLaunches> capture(c10::Device device, const std::function<void()>& body) {
  c10::cuda::CUDAGuard device_guard(device);
  const c10::cuda::CUDAStream caller = c10::cuda::getCurrentCUDAStream(device.index());
  // CUDA graphs are captured on a stream other than the legacy default one.
  const c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool(false, device.index());
  at::cuda::CUDAEvent inputs_ready;
  inputs_ready.record(caller);
  inputs_ready.block(side);

  auto launches = std::make_unique<CudaCapturedLaunches>(device);
  c10::cuda::CUDAStreamGuard stream_guard(side);
  // Thread-local: other threads' CUDA calls neither fail nor break this capture.
  launches->graph().capture_begin({0, 0}, cudaStreamCaptureModeThreadLocal);
  try {
    body();
  } catch (...) {
    try {
      launches->graph().capture_end();
    } catch (...) {
      // the capture was invalidated (a synchronizing call); the original error says why
    }
    (void)cudaGetLastError();
    throw;
  }
  launches->graph().capture_end();
  return launches;
}

void copyAll(const std::vector<at::Tensor>& dst, const std::vector<at::Tensor>& src) {
  TORCH_INTERNAL_ASSERT(dst.size() == src.size(), "copyAll: ", dst.size(), " destinations for ",
                        src.size(), " sources");
  if (dst.empty()) return;
  if (dst.size() == 1) {
    dst[0].copy_(src[0]);
    return;
  }
  at::_foreach_copy_(dst, src);
}

#else

bool canCaptureGraphs() {
  return false;
}

bool isCapturing(c10::Device) {
  return false;
}

bool currentStreamIsCapturing() {
  return false;
}

std::unique_ptr<CapturedLaunches> capture(c10::Device device, const std::function<void()>&) {
  TORCH_CHECK(false, "torch_fuser: CUDA graph capture on ", device, " needs a CUDA build of torch");
}

void copyAll(const std::vector<at::Tensor>& dst, const std::vector<at::Tensor>& src) {
  TORCH_INTERNAL_ASSERT(dst.size() == src.size(), "copyAll: ", dst.size(), " destinations for ",
                        src.size(), " sources");
  for (size_t i = 0; i < dst.size(); ++i) dst[i].copy_(src[i]);
}

#endif

}  // namespace cuda
}  // namespace torch_fuser
