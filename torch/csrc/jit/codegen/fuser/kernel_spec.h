// KernelSpec: one fusion (a normalized FusionGroup subgraph), device-independent, with its
// own cache of compiled kernels keyed by ArgSpec.
//
// Thread-safety: kernelFor() may be called from any number of threads; the first caller
// for an ArgSpec compiles while the others wait for its result, so a kernel is compiled
// once. A kernel stays alive while any launch holds it, even across clearKernels().
// kernelForLaunch() finds a kernel the calling thread used recently without a lock.
// Background compilation (options.h): kernelForLaunch() then hands the compile to a
// worker (background_compiler.h) and answers "compiling" until the kernel is published,
// so the call runs the fallback instead of waiting; a KernelSpec owned by a shared_ptr
// (as the registry's are) stays alive until its compiles finish.
#pragma once

#include "torch/csrc/jit/codegen/fuser/arg_spec.h"
#include "torch/csrc/jit/codegen/fuser/fused_kernel.h"
#include "torch/csrc/jit/codegen/fuser/lowering.h"

#include <c10/core/ScalarType.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace torch {
namespace jit {
struct Code;
struct Graph;
}  // namespace jit
}  // namespace torch

namespace torch_fuser {

// The outcome of compiling one KernelSpec for one ArgSpec.
struct CompiledKernel {
  std::shared_ptr<FusedKernel> kernel;  // null: calls with this ArgSpec fall back
  std::vector<c10::ScalarType> output_dtypes;
  std::string source;
  std::string fallback_reason;
};

// The size an aten::_grad_sum_to_size reduces its value to (see isSumToSize in
// lowering.h): a fusion input of type int[]?, or a constant int list.
struct SumToSize {
  int input = -1;              // index among the fusion's inputs; -1: the constant below
  std::vector<int64_t> sizes;  // the constant (may be empty: a sum to a zero-dim tensor)
};

// How one output of the fusion is made from what the kernel writes.
struct FusionOutput {
  size_t pieces = 1;  // kernel outputs writing it: 1, or a join's pieces
  bool join = false;  // a concatenation or stack (see isJoin in lowering.h) ...
  bool stack = false;
  int64_t dim = 0;               // ... along this dim as written (may be negative)
  c10::optional<SumToSize> sum;  // a _grad_sum_to_size applied after the kernel
};

// A compiled kernel's place in its KernelSpec's cache (kernel_spec.cpp).
struct KernelSlot;

// "fused_" and the fusion's ops in order, each once: fused_mul_add_sigmoid.
std::string fusionName(const torch::jit::Graph& subgraph);

class KernelSpec : public std::enable_shared_from_this<KernelSpec> {
 public:
  KernelSpec(int64_t key, std::shared_ptr<torch::jit::Graph> graph);
  ~KernelSpec();

  int64_t key() const { return key_; }
  const std::shared_ptr<torch::jit::Graph>& graph() const { return graph_; }

  size_t numInputs() const { return input_is_tensor_.size(); }
  bool inputIsTensor(size_t i) const { return input_is_tensor_[i]; }
  // An int[]? input: a size of a _grad_sum_to_size, read by the executor, not the kernel.
  bool inputIsSizeList(size_t i) const { return input_is_size_list_[i]; }
  // Sizes of the _grad_sum_to_size nodes whose results are read inside the fusion: the
  // kernel treats them as the identity, so it runs only when every one is None.
  const std::vector<SumToSize>& innerSumTos() const { return inner_sum_tos_; }
  // The tensors the kernel reads, in order (inputs, and chunk pieces of inputs).
  const std::vector<KernelTensor>& kernelTensors() const { return kernel_tensors_; }
  // For kernelTensors()[k]: the position of its fusion input among the tensor inputs.
  size_t tensorInputPosition(size_t k) const { return tensor_input_positions_[k]; }
  // Kernel outputs (see kernelOutputs in lowering.h): concat outputs count their pieces.
  size_t numOutputs() const { return output_tensor_deps_.size(); }
  // The outputs of the fusion, in order.
  const std::vector<FusionOutput>& outputs() const { return outputs_; }
  // Whether an output is a concatenation or stack (its slices follow the logical dims).
  bool hasJoins() const { return has_joins_; }
  // The kernel tensor whose layout eager's result would follow (its first operand, down
  // the chain of first operands), or -1.
  int layoutTensor() const { return layout_tensor_; }
  // Indices (among kernelTensors()) of the tensors kernel output `o` is computed from.
  const std::vector<int>& outputTensorDeps(size_t o) const { return output_tensor_deps_[o]; }
  // Indices (among kernelTensors()) of the tensors each rand_like's self is computed from:
  // numbers are drawn per element of the iteration space, so a broadcast self (eager
  // draws fewer, repeated along the broadcast) cannot run as this kernel.
  const std::vector<std::vector<int>>& randomTensorDeps() const { return random_tensor_deps_; }
  // True when every output and every rand_like's self depends on every tensor input: then
  // all have the iteration shape and no per-call shape check is needed.
  bool outputsDependOnAllInputs() const { return outputs_depend_on_all_; }

  // The compiled kernel for `spec`, compiling it on first use. At most
  // cacheLimits().max_kernels_per_fusion kernels stay cached; the least recently used
  // goes first (launches in flight keep theirs alive).
  std::shared_ptr<const CompiledKernel> kernelFor(const ArgSpec& spec);
  // kernelFor() for the launch path: a kernel this thread used recently for `spec` is
  // found in a thread-local cache, without the spec's lock or hash map. The reference
  // stays valid until this thread's next call. Unless compilesBlockCalls(), a kernel not
  // compiled yet is answered with one that has no kernel and says it is compiling.
  const CompiledKernel& kernelForLaunch(const ArgSpec& spec);
  void clearKernels();
  size_t numCachedKernels() const;
  std::vector<std::string> sources() const;

  // The interpreter's version of the subgraph, built on first use.
  torch::jit::Code& fallbackCode();
  // Counts a fallback under its reason; prints `reason` once per spec at
  // PYTORCH_FUSION_DEBUG>=1.
  void noteFallback(const std::string& reason);
  // The fallbacks so far, per reason.
  std::map<std::string, int64_t> fallbackCounts() const;
  void countLaunch() { launches_.fetch_add(1, std::memory_order_relaxed); }
  int64_t launches() const { return launches_.load(std::memory_order_relaxed); }
  // "<device> <input dtypes> -> <output dtypes>" of each kernel compiled so far.
  std::vector<std::string> kernelSignatures() const;
  // The name of its kernels in reports and profiles: fusionName(graph()).
  const std::string& name() const { return name_; }
  // TORCH_WARN, at most once for this spec.
  void warnOnce(const std::string& message);

 private:
  std::shared_ptr<KernelSlot> slotFor(const ArgSpec& spec, bool wait);
  // Compiles the slot's kernel here, or (unless `wait`) queues it for a worker; with
  // `wait`, returns once it is published (by this thread or another).
  void compileInto(const std::shared_ptr<KernelSlot>& slot, const ArgSpec& spec, bool wait);
  void evictLeastRecentlyUsed();  // caller holds mutex_
  void describeOutputs();

  const int64_t key_;
  const uint64_t serial_;  // unique in the process, unlike the address (thread-local cache)
  const std::shared_ptr<torch::jit::Graph> graph_;
  std::vector<bool> input_is_tensor_;
  std::vector<bool> input_is_size_list_;
  std::vector<FusionOutput> outputs_;
  std::vector<SumToSize> inner_sum_tos_;
  std::vector<KernelTensor> kernel_tensors_;
  std::vector<size_t> tensor_input_positions_;
  std::vector<std::vector<int>> output_tensor_deps_;
  std::vector<std::vector<int>> random_tensor_deps_;
  bool outputs_depend_on_all_ = true;
  bool has_joins_ = false;
  int layout_tensor_ = -1;

  mutable std::mutex mutex_;  // guards kernels_ and fallback_counts_
  std::unordered_map<ArgSpec, std::shared_ptr<KernelSlot>, ArgSpecHash> kernels_;
  // Bumped when a kernel leaves kernels_: thread-local entries of older generations are
  // not used (a cleared or evicted kernel is compiled again, as without them).
  std::atomic<uint64_t> generation_{0};
  std::map<std::string, int64_t> fallback_counts_;
  std::atomic<int64_t> launches_{0};
  const std::string name_;
  std::atomic<uint64_t> uses_{0};  // the clock of KernelSlot::last_use

  std::once_flag fallback_built_;
  std::unique_ptr<torch::jit::Code> fallback_code_;
  std::once_flag warned_;
};

}  // namespace torch_fuser
