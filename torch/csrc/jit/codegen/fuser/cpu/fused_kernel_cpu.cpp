#include "torch/csrc/jit/codegen/fuser/cpu/fused_kernel_cpu.h"

#include "torch/csrc/jit/codegen/fuser/cpu/codegen_cpu.h"
#include "torch/csrc/jit/codegen/fuser/cpu/host_compiler.h"

#include <ATen/Parallel.h>

namespace torch_fuser {
namespace cpu {
namespace {

// Elements per task: large enough that a task outweighs the pool's dispatch cost.
constexpr int64_t kGrainSize = 32768;

}  // namespace

FusedKernelCPU::FusedKernelCPU(std::unique_ptr<LoadedLibrary> library)
    : library_(std::move(library)),
      entry_(reinterpret_cast<EntryPoint>(library_->symbol(kKernelSymbol))) {}

FusedKernelCPU::~FusedKernelCPU() = default;

void FusedKernelCPU::launch(const TfKernelArgs& args, int64_t numel) const {
  if (numel <= kGrainSize) {
    entry_(&args, 0, numel);
    return;
  }
  at::parallel_for(0, numel, kGrainSize,
                   [&](int64_t begin, int64_t end) { entry_(&args, begin, end); });
}

std::shared_ptr<FusedKernel> compileCPUKernel(const std::string& source) {
  return std::make_shared<FusedKernelCPU>(compileAndLoad(source));
}

}  // namespace cpu
}  // namespace torch_fuser
