#include "torch/csrc/jit/codegen/fuser/cpu/fused_kernel_cpu.h"

#include "torch/csrc/jit/codegen/fuser/cpu/codegen_cpu.h"
#include "torch/csrc/jit/codegen/fuser/cpu/host_compiler.h"

#include <ATen/Parallel.h>
#include <c10/core/ScalarType.h>

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>

namespace torch_fuser {
namespace cpu {
namespace {

// Elements per task: large enough that a task outweighs the pool's dispatch cost.
constexpr int64_t kGrainSize = 32768;

// A fresh large output faults in 4 KB page by page on its first write, which costs more
// than the kernel itself (measured here: filling a fresh 64 MB tensor, 48 ms; with
// transparent huge pages, 15 ms). Ask for huge pages before that first write. This is
// advice only: ATen still owns, and frees, the memory.
// A huge page is zeroed by the one thread that faults it while the others wait, so the
// advice pays only with at least two huge pages per worker thread (measured, 16 threads,
// 4 MB outputs: with the advice 44 us per call, the clone floor 31 us).
void adviseHugePages(void* data, size_t bytes) {
#ifdef MADV_HUGEPAGE
  constexpr uintptr_t kHugePage = uintptr_t(2) << 20;
  const size_t threads = static_cast<size_t>(std::max(1, at::get_num_threads()));
  if (bytes < 2 * kHugePage * threads) return;
  const uintptr_t address = reinterpret_cast<uintptr_t>(data);
  const uintptr_t begin = (address + kHugePage - 1) & ~(kHugePage - 1);
  const uintptr_t end = (address + bytes) & ~(kHugePage - 1);
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#endif
}

}  // namespace

FusedKernelCPU::FusedKernelCPU(const LoweredKernel& kernel, std::unique_ptr<LoadedLibrary> library)
    : library_(std::move(library)),
      entry_(reinterpret_cast<EntryPoint>(library_->symbol(kKernelSymbol))),
      first_output_(kernel.inputs.size()) {
  for (c10::ScalarType dtype : kernel.output_dtypes) {
    output_element_sizes_.push_back(c10::elementSize(dtype));
  }
}

FusedKernelCPU::~FusedKernelCPU() = default;

void FusedKernelCPU::launch(const TfKernelArgs& args, int64_t numel) const {
  for (size_t o = 0; o < output_element_sizes_.size(); ++o) {
    adviseHugePages(args.data[first_output_ + o],
                    static_cast<size_t>(numel) * output_element_sizes_[o]);
  }
  if (numel <= kGrainSize) {
    entry_(&args, 0, numel);
    return;
  }
  at::parallel_for(0, numel, kGrainSize,
                   [&](int64_t begin, int64_t end) { entry_(&args, begin, end); });
}

std::shared_ptr<FusedKernel> compileCPUKernel(const LoweredKernel& kernel,
                                              const std::string& source,
                                              const CompileEnvironment& env) {
  return std::make_shared<FusedKernelCPU>(kernel, compileAndLoad(source, env));
}

}  // namespace cpu
}  // namespace torch_fuser
