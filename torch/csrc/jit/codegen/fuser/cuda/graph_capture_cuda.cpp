#include "torch/csrc/jit/codegen/fuser/cuda/graph_capture_cuda.h"

#include <c10/util/Exception.h>

#if TORCH_FUSER_WITH_CUDA
#include <ATen/Functions.h>
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>

#include <map>
#include <mutex>
#endif

namespace torch_fuser {
namespace cuda {

#if TORCH_FUSER_WITH_CUDA
namespace {

thread_local bool inside_capture = false;

class CudaCapturedLaunches : public CapturedLaunches {
 public:
  explicit CudaCapturedLaunches(c10::Device device) : device_(device) {}

  void replay() override {
    c10::cuda::CUDAGuard guard(device_);
    graph_.replay();
  }

  at::cuda::CUDAGraph& graph() { return graph_; }

 private:
  c10::Device device_;
  at::cuda::CUDAGraph graph_;
};

std::mutex& captureMutex() {
  static std::mutex m;
  return m;
}

// A stream no other code is handed (ATen's pool streams are shared round-robin: another
// thread's work on one would be recorded into our graph). Created once per device, kept.
c10::cuda::CUDAStream captureStream(c10::Device device) {
  static std::map<c10::DeviceIndex, cudaStream_t> streams;  // guarded by captureMutex()
  cudaStream_t& stream = streams[device.index()];
  if (!stream) {
    c10::cuda::CUDAGuard guard(device);
    C10_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  }
  return c10::cuda::getStreamFromExternal(stream, device.index());
}

struct InsideCapture {
  InsideCapture() { inside_capture = true; }
  ~InsideCapture() { inside_capture = false; }
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

bool insideCapture() {
  return inside_capture;
}

int64_t currentStream(c10::Device device) {
  return static_cast<int64_t>(c10::cuda::getCurrentCUDAStream(device.index()).id());
}

std::unique_ptr<CapturedLaunches> capture(c10::Device device, const std::function<void()>& body) {
  std::lock_guard<std::mutex> lock(captureMutex());
  c10::cuda::CUDAGuard device_guard(device);
  const c10::cuda::CUDAStream caller = c10::cuda::getCurrentCUDAStream(device.index());
  const c10::cuda::CUDAStream side = captureStream(device);
  at::cuda::CUDAEvent inputs_ready;
  inputs_ready.record(caller);
  inputs_ready.block(side);

  auto launches = std::make_unique<CudaCapturedLaunches>(device);
  {
    c10::cuda::CUDAStreamGuard stream_guard(side);
    body();  // uncaptured: what the first use on this stream creates, it creates now
    InsideCapture inside;
    // Thread-local: other threads' CUDA calls neither fail nor break this capture.
    launches->graph().capture_begin({0, 0}, cudaStreamCaptureModeThreadLocal);
    try {
      body();
    } catch (...) {
      try {
        launches->graph().capture_end();
      } catch (...) {
        // the capture was invalidated; the original error says why
      }
      (void)cudaGetLastError();
      throw;
    }
    launches->graph().capture_end();
  }
  // The uncaptured run's memory goes back to the caller's stream's side of the allocator
  // only after that run: make the caller wait for it.
  at::cuda::CUDAEvent side_done;
  side_done.record(side);
  side_done.block(caller);
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

bool insideCapture() {
  return false;
}

int64_t currentStream(c10::Device) {
  return 0;
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
