// The CUDA flavour of codegen: CUDA C++ for NVRTC.
//
// A kernel takes one by-value parameter, `TfParams`, whose members are all 8-byte words
// in this order: numel, the tensors' data pointers (inputs then outputs), and — only
// when present — the iteration sizes, the strides of each strided input, the floating
// scalars, the integer scalars. CudaParamLayout is that layout, shared by the printer
// and the launcher so both agree by construction.
#pragma once

#include "torch/csrc/jit/codegen/fuser/lowering.h"

#include <string>
#include <vector>

namespace torch_fuser {
namespace cuda {

constexpr const char* kKernelName = "tf_kernel";
constexpr int kBlockSize = 256;

struct CudaParamLayout {
  int tensors = 0;           // inputs + outputs
  std::vector<int> strided;  // indices of strided inputs
  int rank = 0;              // entries in sizes and in each strides row (0: none passed)
  int fscalars = 0;
  int iscalars = 0;
  int vector_width = 1;      // elements per 128-bit access in the contiguous path

  size_t words() const {
    return 1 + tensors + rank + strided.size() * rank + fscalars + iscalars;
  }
};

CudaParamLayout cudaParamLayout(const LoweredKernel& kernel);
std::string generateSource(const LoweredKernel& kernel);

}  // namespace cuda
}  // namespace torch_fuser
