#include "torch/csrc/jit/codegen/fuser/cuda/fused_kernel_cuda.h"

#include "torch/csrc/jit/codegen/fuser/cuda/codegen_cuda.h"
#include "torch/csrc/jit/codegen/fuser/cuda/cuda_api.h"
#include "torch/csrc/jit/codegen/fuser/cuda/nvrtc_compiler.h"

#include <c10/util/Exception.h>
#include <c10/util/SmallVector.h>

#if TORCH_FUSER_WITH_CUDA
#include <ATen/cuda/CUDAGeneratorImpl.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <mutex>

namespace torch_fuser {
namespace cuda {

#if TORCH_FUSER_WITH_CUDA
namespace {

constexpr int64_t kWaves = 4;

// Makes the device's primary context (the one ATen uses) current on this thread.
void ensureContext(const DriverApi& api, int device_index) {
  CUcontext context = nullptr;
  TORCH_FUSER_CUDA_DRIVER_CHECK(api.cuCtxGetCurrent(&context));
  if (context != nullptr) return;
  CUdevice device = 0;
  TORCH_FUSER_CUDA_DRIVER_CHECK(api.cuDeviceGet(&device, device_index));
  TORCH_FUSER_CUDA_DRIVER_CHECK(api.cuDevicePrimaryCtxRetain(&context, device));
  TORCH_FUSER_CUDA_DRIVER_CHECK(api.cuCtxSetCurrent(context));
}

int attribute(const DriverApi& api, int which, int device_index) {
  CUdevice device = 0;
  TORCH_FUSER_CUDA_DRIVER_CHECK(api.cuDeviceGet(&device, device_index));
  int value = 0;
  TORCH_FUSER_CUDA_DRIVER_CHECK(api.cuDeviceGetAttribute(&value, which, device));
  return value;
}

// CU_STREAM_CAPTURE_MODE_RELAXED for this thread while it lives. A module loaded while
// another thread captures a CUDA graph in global mode (torch.cuda.graph's default) would
// otherwise be a prohibited call that invalidates that capture; a background compile can
// finish at any moment.
class RelaxedCaptureMode {
 public:
  explicit RelaxedCaptureMode(const DriverApi& api) : api_(api) {
    TORCH_FUSER_CUDA_DRIVER_CHECK(api_.cuThreadExchangeStreamCaptureMode(&mode_));
  }
  ~RelaxedCaptureMode() { api_.cuThreadExchangeStreamCaptureMode(&mode_); }
  RelaxedCaptureMode(const RelaxedCaptureMode&) = delete;
  RelaxedCaptureMode& operator=(const RelaxedCaptureMode&) = delete;

 private:
  static constexpr int kRelaxed = 2;  // CU_STREAM_CAPTURE_MODE_RELAXED
  const DriverApi& api_;
  int mode_ = kRelaxed;
};

class FusedKernelCUDA : public FusedKernel {
 public:
  FusedKernelCUDA(const LoweredKernel& kernel, const std::string& source, c10::Device device,
                  const CompileEnvironment& env)
      : layout_(cudaParamLayout(kernel)), device_(device), api_(*driver()) {
    c10::cuda::CUDAGuard guard(device_);
    ensureContext(api_, device_.index());
    const CudaBinary binary = compileWithNvrtc(
        source, attribute(api_, kCuDeviceAttributeComputeCapabilityMajor, device_.index()),
        attribute(api_, kCuDeviceAttributeComputeCapabilityMinor, device_.index()), env);
    RelaxedCaptureMode relaxed(api_);
    TORCH_FUSER_CUDA_DRIVER_CHECK(api_.cuModuleLoadData(&module_, binary.image.data()));
    TORCH_FUSER_CUDA_DRIVER_CHECK(
        api_.cuModuleGetFunction(&function_, module_, kernel.name.c_str()));
    int blocks_per_sm = 0;
    TORCH_FUSER_CUDA_DRIVER_CHECK(
        api_.cuOccupancyMaxActiveBlocksPerMultiprocessor(&blocks_per_sm, function_, kBlockSize, 0));
    const int sms = attribute(api_, kCuDeviceAttributeMultiprocessorCount, device_.index());
    // Four waves of resident blocks: measured on an H200 (2^24..2^26 elements), a grid
    // of one wave (a pure grid-stride loop) was up to 10% slower, an unbounded grid
    // better on some cases and worse on others.
    max_blocks_ = static_cast<int64_t>(std::max(blocks_per_sm, 1)) * sms * kWaves;
  }

  ~FusedKernelCUDA() override {
    // At process exit the driver may already be shut down; nothing useful to report.
    if (module_) api_.cuModuleUnload(module_);
  }

  void launch(const TfKernelArgs& args, int64_t numel) const override {
    c10::SmallVector<int64_t, 64> words;
    words.push_back(numel);
    if (layout_.has_vec_ok) words.push_back(stridedVectorPathApplies(args) ? 1 : 0);
    if (layout_.has_rng) appendRandomState(words);
    for (int t = 0; t < layout_.tensors; ++t) {
      words.push_back(static_cast<int64_t>(reinterpret_cast<intptr_t>(args.data[t])));
    }
    for (int d = 0; d < layout_.rank; ++d) words.push_back(args.sizes[d]);
    for (int t : layout_.strided) {
      for (int d = 0; d < layout_.rank; ++d) words.push_back(args.strides[t * layout_.rank + d]);
    }
    for (int s = 0; s < layout_.fscalars; ++s) {
      int64_t bits;
      std::memcpy(&bits, &args.fscalars[s], sizeof(bits));
      words.push_back(bits);
    }
    for (int s = 0; s < layout_.iscalars; ++s) words.push_back(args.iscalars[s]);
    TORCH_INTERNAL_ASSERT(words.size() == layout_.words(), "packed ", words.size(),
                          " parameter words, the kernel takes ", layout_.words());

    const int64_t per_block = static_cast<int64_t>(kBlockSize) * layout_.vector_width;
    const int64_t wanted = (numel + per_block - 1) / per_block;
    const unsigned grid =
        static_cast<unsigned>(std::max<int64_t>(1, std::min(wanted, max_blocks_)));
    c10::cuda::CUDAGuard guard(device_);
    ensureContext(api_, device_.index());
    const CUstream stream =
        reinterpret_cast<CUstream>(c10::cuda::getCurrentCUDAStream(device_.index()).stream());
    void* params[] = {words.data()};
    TORCH_FUSER_CUDA_DRIVER_CHECK(
        api_.cuLaunchKernel(function_, grid, 1, 1, kBlockSize, 1, 1, 0, stream, params, nullptr));
  }

 private:
  // Reserves this launch's counters from the device's default CUDA generator (so
  // torch.manual_seed governs the numbers) in a way that stays valid under graph capture.
  void appendRandomState(c10::SmallVectorImpl<int64_t>& words) const {
    auto generator = at::cuda::detail::getDefaultCUDAGenerator(device_.index());
    at::PhiloxCudaState state;
    {
      std::lock_guard<std::mutex> lock(generator.mutex());
      // Each element takes one Philox block from its own counter; the offset separates
      // launches.
      state = at::check_generator<at::CUDAGeneratorImpl>(generator)->philox_cuda_state(4);
    }
    if (state.captured_) {
      words.push_back(static_cast<int64_t>(reinterpret_cast<intptr_t>(state.seed_.ptr)));
      words.push_back(static_cast<int64_t>(reinterpret_cast<intptr_t>(state.offset_.ptr)));
      words.push_back(static_cast<int64_t>(state.offset_intragraph_));
      words.push_back(1);
    } else {
      words.push_back(static_cast<int64_t>(state.seed_.val));
      words.push_back(static_cast<int64_t>(state.offset_.val));
      words.push_back(0);
      words.push_back(0);
    }
  }

  // The strided kernel's vector path needs rows that split into whole vectors and every
  // vector access aligned: data pointers, and the row starts of unit-stride inputs.
  bool stridedVectorPathApplies(const TfKernelArgs& args) const {
    const int width = layout_.vector_width;
    const int rank = layout_.rank;
    if (args.sizes[rank - 1] % width != 0) return false;
    for (int t = 0; t < layout_.tensors; ++t) {
      const auto address = reinterpret_cast<uintptr_t>(args.data[t]);
      if (address % static_cast<uintptr_t>(width * layout_.element_sizes[t]) != 0) return false;
    }
    for (int t : layout_.unit_strided) {
      for (int d = 0; d + 1 < rank; ++d) {
        if (args.strides[t * rank + d] % width != 0) return false;
      }
    }
    return true;
  }

  CudaParamLayout layout_;
  c10::Device device_;
  const DriverApi& api_;
  CUmodule module_ = nullptr;
  CUfunction function_ = nullptr;
  int64_t max_blocks_ = 1;
};

}  // namespace

bool available(std::string* why) {
  static const std::string missing = [] {
    std::string reason;
    if (!driver(&reason)) return reason;
    if (!nvrtc(&reason)) return reason;
    if (c10::cuda::device_count() == 0) return std::string("no CUDA device");
    return std::string();
  }();
  if (why) *why = missing;
  return missing.empty();
}

std::shared_ptr<FusedKernel> compileCUDAKernel(const LoweredKernel& kernel,
                                               const std::string& source, c10::Device device,
                                               const CompileEnvironment& env) {
  std::string why;
  TORCH_CHECK(available(&why), "torch_fuser: CUDA kernels cannot run here: ", why);
  return std::make_shared<FusedKernelCUDA>(kernel, source, device, env);
}

#else  // CPU-only torch

bool available(std::string* why) {
  if (why) *why = "torch_fuser was built against a torch without CUDA";
  return false;
}

std::shared_ptr<FusedKernel> compileCUDAKernel(const LoweredKernel&, const std::string&,
                                               c10::Device device, const CompileEnvironment&) {
  TORCH_CHECK(false, "torch_fuser: cannot run a kernel on ", device.str(),
              ": this build has no CUDA backend (torch was built without CUDA)");
}

#endif

}  // namespace cuda
}  // namespace torch_fuser
