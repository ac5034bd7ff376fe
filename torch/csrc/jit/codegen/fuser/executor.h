// The executor: runs one fusion on the inputs at the top of the stack.
//
// Per call: classify the inputs, broadcast their shapes as eager does, build the ArgSpec,
// find (or compile) the kernel, allocate contiguous outputs of eager's dtypes, launch —
// or, when anything stands in the way (see fallback reasons in executor.cpp), run the
// subgraph in the interpreter.
#pragma once

#include "torch/csrc/jit/codegen/fuser/fused_kernel.h"
#include "torch/csrc/jit/codegen/fuser/options.h"

#include <ATen/core/stack.h>

#include <memory>
#include <string>
#include <vector>

namespace torch_fuser {

class KernelSpec;

void runKernelSpec(KernelSpec& spec, torch::jit::Stack& stack);

// While alive, holds every kernel the current thread launches: a CUDA graph captured from
// those launches replays them after the caches may have dropped them (captured_graph.h).
class LaunchedKernelKeeper {
 public:
  LaunchedKernelKeeper();
  ~LaunchedKernelKeeper();
  LaunchedKernelKeeper(const LaunchedKernelKeeper&) = delete;
  LaunchedKernelKeeper& operator=(const LaunchedKernelKeeper&) = delete;
  std::vector<std::shared_ptr<const FusedKernel>> take() { return std::move(kernels_); }

  void keep(const std::shared_ptr<FusedKernel>& kernel);

 private:
  std::vector<std::shared_ptr<const FusedKernel>> kernels_;
  LaunchedKernelKeeper* previous_;
};

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
