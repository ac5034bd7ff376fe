// FusedKernelCUDA: a generated CUDA kernel compiled by NVRTC, loaded with
// cuModuleLoadData and launched with cuLaunchKernel on ATen's current stream. Only this
// backend's .cpp knows whether the build has CUDA; elsewhere it is this factory.
#pragma once

#include "torch/csrc/jit/codegen/fuser/compile_environment.h"
#include "torch/csrc/jit/codegen/fuser/fused_kernel.h"
#include "torch/csrc/jit/codegen/fuser/lowering.h"

#include <c10/core/Device.h>

#include <memory>
#include <string>

namespace torch_fuser {
namespace cuda {

// Whether CUDA kernels can run in this process: torch built with CUDA, a driver, a GPU,
// and NVRTC. Decided once; `why` tells what is missing.
bool available(std::string* why = nullptr);

// Compiles `source` (from cuda::generateSource(kernel)) for `device`'s architecture.
std::shared_ptr<FusedKernel> compileCUDAKernel(const LoweredKernel& kernel,
                                               const std::string& source, c10::Device device,
                                               const CompileEnvironment& env);

}  // namespace cuda
}  // namespace torch_fuser
