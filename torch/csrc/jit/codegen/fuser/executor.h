// The executor: runs one fusion on the inputs at the top of the stack.
//
// Per call: classify the inputs, broadcast their shapes as eager does, build the ArgSpec,
// find (or compile) the kernel, allocate contiguous outputs of eager's dtypes, launch —
// or, when anything stands in the way (see fallback reasons in executor.cpp), run the
// subgraph in the interpreter.
#pragma once

#include "torch/csrc/jit/codegen/fuser/options.h"

#include <ATen/core/stack.h>

#include <string>
#include <vector>

namespace torch_fuser {

class KernelSpec;

void runKernelSpec(KernelSpec& spec, torch::jit::Stack& stack);

// While alive, records the source of every kernel the current thread launches.
class KernelSourceRecorder {
 public:
  KernelSourceRecorder();
  ~KernelSourceRecorder();
  KernelSourceRecorder(const KernelSourceRecorder&) = delete;
  KernelSourceRecorder& operator=(const KernelSourceRecorder&) = delete;
  const std::vector<std::string>& sources() const { return sources_; }

  void record(const std::string& source);

 private:
  std::vector<std::string> sources_;
  KernelSourceRecorder* previous_;
  WaitForCompiles wait_;  // the calls recorded run kernels, not "compiling" fallbacks
};

}  // namespace torch_fuser
