// The fallback: a fusion's subgraph run by the TorchScript interpreter, which computes
// exactly what eager computes and raises exactly eager's errors.
#pragma once

#include <ATen/core/stack.h>

namespace torch_fuser {

class KernelSpec;

void runFallback(KernelSpec& spec, torch::jit::Stack& stack);

}  // namespace torch_fuser
