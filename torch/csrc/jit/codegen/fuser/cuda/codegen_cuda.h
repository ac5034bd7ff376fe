// The CUDA flavour of codegen: CUDA C++ for NVRTC. The kernel is named after the fusion
// (LoweredKernel::name, e.g. fused_mul_add_sigmoid), so CUDA activity in a profiler shows
// which fusion ran.
//
// A kernel takes one by-value parameter, `TfParams`, whose members are all 8-byte words
// in this order: numel, and — only when present — vec_ok (strided kernels with a vector
// path: the host checked sizes and alignment), rng[4] (random kernels: the CUDA
// generator's seed and offset as values, or as device pointers plus an intra-graph offset
// under CUDA graph capture, and a captured flag), the tensors' data pointers (inputs then
// outputs), the iteration sizes, the strides of each strided tensor, the floating
// scalars, the integer scalars. CudaParamLayout is that layout, shared by the printer
// and the launcher so both agree by construction.
#pragma once

#include "torch/csrc/jit/codegen/fuser/lowering.h"

#include <string>
#include <vector>

namespace torch_fuser {
namespace cuda {

constexpr int kBlockSize = 256;

struct CudaParamLayout {
  int tensors = 0;           // inputs + outputs
  std::vector<int> strided;  // indices of strided tensors (inputs, then outputs)
  int rank = 0;              // entries in sizes and in each strides row (0: none passed)
  int fscalars = 0;
  int iscalars = 0;
  int vector_width = 1;  // elements per (up to) 128-bit access; 1: no vector path
  // Strided kernels whose strided inputs all have unit or zero inner stride get a vector
  // path too, taken when the host sets vec_ok.
  bool has_vec_ok = false;
  bool has_rng = false;  // rand_like: rng[4] follows numel/vec_ok
  // Bytes per element of each tensor (inputs then outputs), for the host's alignment check.
  std::vector<int> element_sizes;
  // Strided tensors accessed as vectors of their rows (inner stride 1).
  std::vector<int> unit_strided;

  size_t words() const {
    return 1 + (has_vec_ok ? 1 : 0) + (has_rng ? 4 : 0) + tensors + rank + strided.size() * rank +
           fscalars + iscalars;
  }
};

CudaParamLayout cudaParamLayout(const LoweredKernel& kernel);
std::string generateSource(const LoweredKernel& kernel);

}  // namespace cuda
}  // namespace torch_fuser
