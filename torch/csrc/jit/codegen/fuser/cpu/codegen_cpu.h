// The CPU flavour of codegen: C++ for the host compiler.
#pragma once

#include "torch/csrc/jit/codegen/fuser/lowering.h"

#include <string>

namespace torch_fuser {
namespace cpu {

// The exported entry point of every generated CPU kernel:
//   extern "C" void tf_kernel(const TfKernelArgs* args, int64_t begin, int64_t end);
// It computes the elements [begin, end) of the iteration space.
constexpr const char* kKernelSymbol = "tf_kernel";

std::string generateSource(const LoweredKernel& kernel);

}  // namespace cpu
}  // namespace torch_fuser
