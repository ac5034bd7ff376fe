// Differences between the libtorch versions torch_fuser builds against (Debian's 1.13
// and torch 2.x wheels), kept in one place.
#pragma once

#include <c10/macros/Export.h>

namespace torch {
namespace jit {

// PyTorch's legacy fuser switches. libtorch exports them in every supported version, but
// the header that declares them (torch/csrc/jit/codegen/fuser/interface.h) is not shipped
// by every distribution — and its path clashes with ours — so they are declared here.
TORCH_API bool canFuseOnCPU();
TORCH_API bool canFuseOnGPU();
TORCH_API void overrideCanFuseOnCPU(bool value);
TORCH_API void overrideCanFuseOnGPU(bool value);

}  // namespace jit
}  // namespace torch
