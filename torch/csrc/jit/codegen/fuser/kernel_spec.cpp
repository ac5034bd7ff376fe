#include "torch/csrc/jit/codegen/fuser/kernel_spec.h"

#include "torch/csrc/jit/codegen/fuser/background_compiler.h"
#include "torch/csrc/jit/codegen/fuser/fallback.h"
#include "torch/csrc/jit/codegen/fuser/input_views.h"

#include <algorithm>
#include <array>
#include <condition_variable>

#include "torch/csrc/jit/codegen/fuser/compiler.h"
#include "torch/csrc/jit/codegen/fuser/lowering.h"
#include "torch/csrc/jit/codegen/fuser/op_table.h"
#include "torch/csrc/jit/codegen/fuser/options.h"

#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/runtime/interpreter.h>

#include <iostream>
#include <sstream>
#include <unordered_map>

namespace torch_fuser {

struct KernelSlot {
  enum class State { kNew, kCompiling, kDone };
  std::mutex mutex;  // guards state and kernel
  std::condition_variable published;
  State state = State::kNew;
  std::shared_ptr<const CompiledKernel> kernel;       // set once, with state kDone
  std::atomic<const CompiledKernel*> ready{nullptr};  // kernel.get(), for lock-free readers
  std::atomic<uint64_t> last_use{0};                  // KernelSpec::uses_ at the last lookup

  void publish(std::shared_ptr<const CompiledKernel> compiled) {
    std::lock_guard<std::mutex> guard(mutex);
    kernel = std::move(compiled);
    ready.store(kernel.get(), std::memory_order_release);
    state = State::kDone;
    published.notify_all();
  }
};

namespace {

// What a launch gets while its kernel compiles in the background.
const CompiledKernel& compilingKernel() {
  static const auto* compiling = [] {
    auto* kernel = new CompiledKernel();  // never destroyed: launches may run at exit
    kernel->fallback_reason = "the kernel is compiling in the background";
    return kernel;
  }();
  return *compiling;
}

// compileKernel for a worker thread, where an exception must not escape: it becomes the
// reason this ArgSpec falls back (the fallback then raises eager's error, if any).
std::shared_ptr<const CompiledKernel> compileOnWorker(KernelSpec& spec, const ArgSpec& arg_spec,
                                                      const CompileEnvironment& env) {
  try {
    return compileKernel(spec, arg_spec, env);
  } catch (const std::exception& e) {
    auto failed = std::make_shared<CompiledKernel>();
    const auto* error = dynamic_cast<const c10::Error*>(&e);
    failed->fallback_reason = error ? error->what_without_backtrace() : e.what();
    return failed;
  }
}

uint64_t nextSerial() {
  static std::atomic<uint64_t> serial{0};
  return ++serial;
}

// The kernels this thread looked up last (see kernelForLaunch): a few entries, so a loop
// body's fusions do not evict each other.
struct RecentKernel {
  uint64_t spec_serial = 0;
  uint64_t generation = 0;
  c10::optional<ArgSpec> arg_spec;
  std::shared_ptr<KernelSlot> slot;  // keeps the kernel alive while cached here
};
thread_local std::array<RecentKernel, 8> recent_kernels;

// The values random numbers are drawn over: rand_like's self (one number per element of
// its shape, as eager draws them).
std::vector<const torch::jit::Value*> randomDrawShapes(const torch::jit::Graph& graph) {
  std::vector<const torch::jit::Value*> values;
  for (const torch::jit::Node* node : graph.nodes()) {
    const FusibleOp* op = findFusibleOp(node);
    if (op && op->pattern == LoweringPattern::kRandLike) values.push_back(node->input(0));
  }
  return values;
}

// For each of `values`, the kernel tensors (see KernelTensor) whose shapes it is computed
// from.
std::vector<std::vector<int>> tensorDependencies(
    const torch::jit::Graph& graph, const std::vector<KernelTensor>& tensors,
    const std::vector<const torch::jit::Value*>& values) {
  const size_t n = tensors.size();
  std::unordered_map<const torch::jit::Value*, std::vector<bool>> reach;
  for (const torch::jit::Value* input : graph.inputs()) reach[input] = std::vector<bool>(n, false);
  for (size_t k = 0; k < n; ++k) {
    if (!tensors[k].chunk && !tensors[k].view) reach[graph.inputs()[tensors[k].input]][k] = true;
  }
  for (const torch::jit::Node* node : graph.nodes()) {
    if (isInputView(node)) {
      // Shaped by the view alone (a view only views read is shaped like its input).
      std::vector<bool> mask = reach[node->input(0)];
      for (size_t k = 0; k < n; ++k) {
        if (tensors[k].view == node) {
          mask.assign(n, false);
          mask[k] = true;
        }
      }
      reach[node->output()] = mask;
      continue;
    }
    if (node->kind() == c10::prim::ConstantChunk) {
      for (const torch::jit::Value* out : node->outputs()) reach[out] = std::vector<bool>(n, false);
      for (size_t k = 0; k < n; ++k) {
        if (tensors[k].chunk == node) reach[node->outputs()[tensors[k].piece]][k] = true;
      }
      continue;
    }
    std::vector<bool> mask(n, false);
    const FusibleOp* op = findFusibleOp(node);
    const size_t shaping = (op && op->shape_from_self()) ? 1 : node->inputs().size();
    for (const torch::jit::Value* in : node->inputs().slice(0, shaping)) {
      auto it = reach.find(in);
      if (it == reach.end()) continue;
      for (size_t i = 0; i < n; ++i) mask[i] = mask[i] || it->second[i];
    }
    for (const torch::jit::Value* out : node->outputs()) reach[out] = mask;
  }
  std::vector<std::vector<int>> deps;
  for (const torch::jit::Value* value : values) {
    std::vector<int> list;
    const std::vector<bool>& mask = reach[value];
    for (size_t i = 0; i < mask.size(); ++i) {
      if (mask[i]) list.push_back(static_cast<int>(i));
    }
    deps.push_back(std::move(list));
  }
  return deps;
}

// Where a _grad_sum_to_size's size comes from; false for a constant None (nothing to do).
bool sumToSizeOf(const torch::jit::Graph& graph, const torch::jit::Node* node, SumToSize& out) {
  const torch::jit::Value* size = node->input(1);
  for (size_t i = 0; i < graph.inputs().size(); ++i) {
    if (graph.inputs()[i] == size) {
      out.input = static_cast<int>(i);
      return true;
    }
  }
  const c10::optional<c10::IValue> constant = torch::jit::toIValue(size);
  TORCH_INTERNAL_ASSERT(constant, "the size of a fused _grad_sum_to_size is neither an input ",
                        "of the fusion nor a constant");
  if (constant->isNone()) return false;
  out.sizes = constant->toIntVector();
  return true;
}

}  // namespace

void KernelSpec::describeOutputs() {
  for (const torch::jit::Value* output : graph_->outputs()) {
    const torch::jit::Node* node = output->node();
    FusionOutput out;
    if (isJoin(node)) {
      out.pieces = node->inputs().size();
      out.join = true;
      out.stack = node->kind() == fusedStackKind();
      out.dim = node->i(c10::attr::dim);
      has_joins_ = true;
    }
    outputs_.push_back(std::move(out));
  }
  for (const torch::jit::Node* node : graph_->nodes()) {
    if (!isSumToSize(node)) continue;
    SumToSize sum;
    if (!sumToSizeOf(*graph_, node, sum)) continue;
    bool read_inside = false;
    for (const torch::jit::Use& use : node->output()->uses()) {
      if (use.user->kind() == c10::prim::Return) {
        outputs_[use.offset].sum = sum;
      } else {
        read_inside = true;
      }
    }
    if (read_inside) inner_sum_tos_.push_back(sum);
  }
}

// The kernel tensor eager's TensorIterator takes the first output's layout from when it
// can: the one reached by following each op's first tensor operand (or a join's first
// piece) down from that output. -1 when the walk ends elsewhere.
int firstOperandTensor(const torch::jit::Graph& graph, const std::vector<KernelTensor>& tensors) {
  if (graph.outputs().empty()) return -1;
  const torch::jit::Value* v = graph.outputs()[0];
  while (true) {
    const torch::jit::Node* node = v->node();
    for (size_t k = 0; k < tensors.size(); ++k) {
      const bool reached =
          node->kind() == c10::prim::Param ? !tensors[k].chunk && !tensors[k].view &&
                                                 tensors[k].input == static_cast<int>(v->offset())
          : tensors[k].view
              ? tensors[k].view == node
              : tensors[k].chunk == node && tensors[k].piece == static_cast<int>(v->offset());
      if (reached) return static_cast<int>(k);
    }
    if (node->kind() == c10::prim::Param || node->kind() == c10::prim::ConstantChunk ||
        isInputView(node)) {
      return -1;
    }
    const torch::jit::Value* next = nullptr;
    for (const torch::jit::Value* in : node->inputs()) {
      if (in->type()->cast<c10::TensorType>()) {
        next = in;
        break;
      }
    }
    if (!next) return -1;
    v = next;
  }
}

std::string fusionName(const torch::jit::Graph& subgraph) {
  std::string name = "fused";
  std::vector<c10::Symbol> seen;
  for (const torch::jit::Node* node : subgraph.nodes()) {
    const c10::Symbol kind = node->kind();
    if (kind == c10::prim::Constant || kind == c10::prim::ListConstruct ||
        std::find(seen.begin(), seen.end(), kind) != seen.end()) {
      continue;
    }
    seen.push_back(kind);
    std::string op = kind == c10::prim::ConstantChunk ? "chunk" : kind.toUnqualString();
    op.erase(0, op.find_first_not_of('_'));  // _grad_sum_to_size -> grad_sum_to_size
    name += "_" + op;
  }
  return name;
}

KernelSpec::KernelSpec(int64_t key, std::shared_ptr<torch::jit::Graph> graph)
    : key_(key), serial_(nextSerial()), graph_(std::move(graph)), name_(fusionName(*graph_)) {
  for (const torch::jit::Value* input : graph_->inputs()) {
    input_is_tensor_.push_back(static_cast<bool>(input->type()->cast<c10::TensorType>()));
    input_is_size_list_.push_back(isSizeList(input));
  }
  describeOutputs();
  kernel_tensors_ = ::torch_fuser::kernelTensors(*graph_);
  for (const KernelTensor& k : kernel_tensors_) {
    size_t position = 0;
    for (int i = 0; i < k.input; ++i) position += input_is_tensor_[i] ? 1 : 0;
    tensor_input_positions_.push_back(position);
  }
  output_tensor_deps_ = tensorDependencies(*graph_, kernel_tensors_, kernelOutputs(*graph_));
  random_tensor_deps_ = tensorDependencies(*graph_, kernel_tensors_, randomDrawShapes(*graph_));
  layout_tensor_ = firstOperandTensor(*graph_, kernel_tensors_);
  for (const auto* all_deps : {&output_tensor_deps_, &random_tensor_deps_}) {
    for (const std::vector<int>& deps : *all_deps) {
      outputs_depend_on_all_ = outputs_depend_on_all_ && deps.size() == kernel_tensors_.size();
    }
  }
}

KernelSpec::~KernelSpec() = default;

// The slot of `spec`, its kernel compiled (by this thread or another) or, unless `wait`,
// compiling.
std::shared_ptr<KernelSlot> KernelSpec::slotFor(const ArgSpec& spec, bool wait) {
  std::shared_ptr<KernelSlot> slot;
  bool inserted = false;
  {
    std::lock_guard<std::mutex> guard(mutex_);
    auto it = kernels_.find(spec);
    if (it == kernels_.end()) {
      const int64_t limit = std::max<int64_t>(1, cacheLimits().max_kernels_per_fusion.load());
      while (static_cast<int64_t>(kernels_.size()) >= limit) evictLeastRecentlyUsed();
      it = kernels_.emplace(spec, std::make_shared<KernelSlot>()).first;
      inserted = true;
    }
    slot = it->second;
    slot->last_use.store(++uses_, std::memory_order_relaxed);
  }
  // A hit: found compiled (not compiled, waited for or queued by this call).
  if (slot->ready.load(std::memory_order_acquire) == nullptr) {
    compileInto(slot, spec, wait);
  } else if (!inserted) {
    countMemoryCacheHit();
  }
  return slot;
}

void KernelSpec::compileInto(const std::shared_ptr<KernelSlot>& slot, const ArgSpec& spec,
                             bool wait) {
  using State = KernelSlot::State;
  std::unique_lock<std::mutex> lock(slot->mutex);
  while (slot->state == State::kCompiling) {
    // Starts workers where a fork left queued compiles without any (else a no-op).
    lock.unlock();
    kickBackgroundCompiles();
    if (!wait) return;
    lock.lock();
    slot->published.wait(lock, [&] { return slot->state != State::kCompiling; });
  }
  if (slot->state == State::kDone) return;
  slot->state = State::kCompiling;
  lock.unlock();

  // A worker needs the spec to outlive the compile; one not owned by a shared_ptr (a
  // test's) compiles here.
  std::shared_ptr<KernelSpec> self = wait ? nullptr : weak_from_this().lock();
  const c10::DeviceType device = spec.device().type();
  std::shared_ptr<const CompiledKernel> compiled;
  try {
    CompileEnvironment env = CompileEnvironment::current();
    if (self && backendAvailable(device)) {
      submitBackgroundCompile(device, [self, slot, spec, env = std::move(env)] {
        slot->publish(compileOnWorker(*self, spec, env));
      });
      return;
    }
    CompileSection section;  // a fork waits for it
    compiled = compileKernel(*this, spec, env);
  } catch (...) {
    lock.lock();  // a later call tries again, as the first did
    slot->state = State::kNew;
    slot->published.notify_all();
    throw;
  }
  slot->publish(std::move(compiled));
}

std::shared_ptr<const CompiledKernel> KernelSpec::kernelFor(const ArgSpec& spec) {
  const std::shared_ptr<KernelSlot> slot = slotFor(spec, /*wait=*/true);
  std::lock_guard<std::mutex> guard(slot->mutex);
  return slot->kernel;
}

const CompiledKernel& KernelSpec::kernelForLaunch(const ArgSpec& spec) {
  RecentKernel& recent =
      recent_kernels[(serial_ * 0x9e3779b97f4a7c15ull ^ spec.hash()) % recent_kernels.size()];
  const uint64_t generation = generation_.load(std::memory_order_acquire);
  if (recent.spec_serial == serial_ && recent.generation == generation &&
      *recent.arg_spec == spec) {
    if (const CompiledKernel* kernel = recent.slot->ready.load(std::memory_order_acquire)) {
      // Recency for eviction, on the spec's clock. Written only when the clock moved (a
      // miss elsewhere), so threads sharing a kernel do not bounce its slot's cache line.
      const uint64_t now = uses_.load(std::memory_order_relaxed);
      if (recent.slot->last_use.load(std::memory_order_relaxed) != now) {
        recent.slot->last_use.store(now, std::memory_order_relaxed);
      }
      countMemoryCacheHit();
      return *kernel;
    }
  }
  std::shared_ptr<KernelSlot> slot = slotFor(spec, compilesBlockCalls());
  recent.spec_serial = serial_;
  recent.generation = generation;
  recent.arg_spec = spec;
  recent.slot = std::move(slot);
  const CompiledKernel* kernel = recent.slot->ready.load(std::memory_order_acquire);
  return kernel ? *kernel : compilingKernel();
}

void KernelSpec::evictLeastRecentlyUsed() {
  auto oldest = kernels_.begin();
  for (auto it = kernels_.begin(); it != kernels_.end(); ++it) {
    if (it->second->last_use.load(std::memory_order_relaxed) <
        oldest->second->last_use.load(std::memory_order_relaxed)) {
      oldest = it;
    }
  }
  kernels_.erase(oldest);
  generation_.fetch_add(1, std::memory_order_release);
  cacheLimits().evicted_kernels++;
}

size_t KernelSpec::numCachedKernels() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return kernels_.size();
}

void KernelSpec::clearKernels() {
  std::lock_guard<std::mutex> guard(mutex_);
  kernels_.clear();
  generation_.fetch_add(1, std::memory_order_release);
}

std::vector<std::string> KernelSpec::sources() const {
  std::lock_guard<std::mutex> guard(mutex_);
  std::vector<std::string> out;
  for (const auto& entry : kernels_) {
    const CompiledKernel* compiled = entry.second->ready.load(std::memory_order_acquire);
    if (compiled) out.push_back(compiled->source);
  }
  return out;
}

torch::jit::Code& KernelSpec::fallbackCode() {
  std::call_once(fallback_built_, [this] {
    fallback_code_ =
        std::make_unique<torch::jit::Code>(fallbackGraph(*graph_), "torch_fuser_fallback");
  });
  return *fallback_code_;
}

void KernelSpec::noteFallback(const std::string& reason) {
  countFallback();
  {
    std::lock_guard<std::mutex> guard(mutex_);
    if (fallback_counts_[reason]++ > 0 || debugLevel() < 1) return;
  }
  std::cerr << "[torch_fuser] fusion " << key_ << " (" << name_
            << ") runs in the interpreter: " << reason << "\n";
}

std::map<std::string, int64_t> KernelSpec::fallbackCounts() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return fallback_counts_;
}

std::vector<std::string> KernelSpec::kernelSignatures() const {
  std::lock_guard<std::mutex> guard(mutex_);
  std::vector<std::string> out;
  for (const auto& entry : kernels_) {
    const CompiledKernel* compiled = entry.second->ready.load(std::memory_order_acquire);
    if (!compiled || !compiled->kernel) continue;
    std::ostringstream line;
    line << entry.first.device();
    for (const TensorDesc& t : entry.first.tensors()) line << " " << c10::toString(t.dtype);
    line << " ->";
    for (const c10::ScalarType dtype : compiled->output_dtypes) line << " " << c10::toString(dtype);
    out.push_back(line.str());
  }
  std::sort(out.begin(), out.end());
  return out;
}

void KernelSpec::warnOnce(const std::string& message) {
  std::call_once(warned_, [&] { TORCH_WARN("torch_fuser: ", message); });
}

}  // namespace torch_fuser
