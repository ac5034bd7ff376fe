#include "torch/csrc/jit/codegen/fuser/fallback.h"

#include "torch/csrc/jit/codegen/fuser/kernel_spec.h"

#include <torch/csrc/jit/runtime/interpreter.h>

namespace torch_fuser {

void runFallback(KernelSpec& spec, torch::jit::Stack& stack) {
  torch::jit::InterpreterState state(spec.fallbackCode());
  state.run(stack);
}

}  // namespace torch_fuser
