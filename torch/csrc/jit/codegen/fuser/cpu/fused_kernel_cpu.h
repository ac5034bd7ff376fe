// FusedKernelCPU: a generated C++ kernel, compiled by the host compiler and run on
// ATen's intra-op thread pool (so torch.set_num_threads is obeyed).
#pragma once

#include "torch/csrc/jit/codegen/fuser/compile_environment.h"
#include "torch/csrc/jit/codegen/fuser/fused_kernel.h"
#include "torch/csrc/jit/codegen/fuser/lowering.h"

#include <memory>
#include <string>
#include <vector>

namespace torch_fuser {
namespace cpu {

class LoadedLibrary;

class FusedKernelCPU : public FusedKernel {
 public:
  using EntryPoint = void (*)(const TfKernelArgs*, int64_t, int64_t);

  FusedKernelCPU(const LoweredKernel& kernel, std::unique_ptr<LoadedLibrary> library);
  ~FusedKernelCPU() override;
  void launch(const TfKernelArgs& args, int64_t numel) const override;

 private:
  std::unique_ptr<LoadedLibrary> library_;
  EntryPoint entry_;
  size_t first_output_;  // index of the first output in TfKernelArgs::data
  std::vector<size_t> output_element_sizes_;
};

// The CPU backend's factory: compiles source from cpu::generateSource(kernel).
std::shared_ptr<FusedKernel> compileCPUKernel(const LoweredKernel& kernel,
                                              const std::string& source,
                                              const CompileEnvironment& env);

}  // namespace cpu
}  // namespace torch_fuser
