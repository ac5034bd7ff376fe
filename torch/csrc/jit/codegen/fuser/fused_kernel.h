// The device-independent face of a compiled kernel. Backends (cpu/, cuda/) implement it;
// the executor only ever sees this interface.
#pragma once

#include "torch/csrc/jit/codegen/fuser/resources/kernel_abi.h"

#include <cstdint>

namespace torch_fuser {

class FusedKernel {
 public:
  virtual ~FusedKernel() = default;
  // Computes all `numel` elements of the iteration space described by `args`.
  virtual void launch(const TfKernelArgs& args, int64_t numel) const = 0;
};

}  // namespace torch_fuser
