#include "torch/csrc/jit/codegen/fuser/captured_graph.h"

#include "torch/csrc/jit/codegen/fuser/background_compiler.h"
#include "torch/csrc/jit/codegen/fuser/cuda/graph_capture_cuda.h"
#include "torch/csrc/jit/codegen/fuser/executor.h"
#include "torch/csrc/jit/codegen/fuser/options.h"

#include <ATen/ATen.h>
#include <c10/core/DefaultDtype.h>
#include <c10/core/GradMode.h>
#include <c10/core/InferenceMode.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/runtime/interpreter.h>
#include <torch/version.h>

#include <cstring>
#include <iostream>
#include <map>
#include <mutex>
#include <vector>

namespace torch_fuser {
namespace {

using torch::jit::IValue;
using torch::jit::Stack;

constexpr int kWarmCalls = 2;
constexpr size_t kMaxSignatures = 4;
constexpr int kMaxRecaptures = 2;
// Results up to this size share one allocation per call (freshCopies).
constexpr size_t kSharedSpanBytes = 1 << 20;

// What a replay depends on, per input: a tensor's metadata, any other value itself.
struct InputKey {
  enum class Kind { kTensor, kUndefinedTensor, kValue };
  Kind kind = Kind::kValue;
  c10::ScalarType dtype = c10::ScalarType::Undefined;
  c10::Device device{c10::DeviceType::CPU};
  bool requires_grad = false;
  bool conj = false;  // lazy conjugation and negation bits: ops resolve them at capture
  bool neg = false;
  std::vector<int64_t> sizes;
  std::vector<int64_t> strides;
  IValue value;
};

bool sameValue(const IValue& a, const IValue& b) {
  if (a.isNone() || b.isNone()) return a.isNone() && b.isNone();
  if (a.isInt() && b.isInt()) return a.toInt() == b.toInt();
  if (a.isBool() && b.isBool()) return a.toBool() == b.toBool();
  if (a.isDouble() && b.isDouble()) {
    const double x = a.toDouble();
    const double y = b.toDouble();
    return std::memcmp(&x, &y, sizeof(double)) == 0;
  }
  if (a.isIntList() && b.isIntList()) return a.toIntList().vec() == b.toIntList().vec();
  return false;
}

bool matches(const InputKey& key, const IValue& v) {
  if (key.kind == InputKey::Kind::kValue) return !v.isTensor() && sameValue(key.value, v);
  if (!v.isTensor()) return false;
  const at::Tensor& t = v.toTensor();
  if (key.kind == InputKey::Kind::kUndefinedTensor) return !t.defined();
  return t.defined() && t.scalar_type() == key.dtype && t.device() == key.device &&
         t.requires_grad() == key.requires_grad && t.is_conj() == key.conj &&
         t.is_neg() == key.neg && t.sizes().equals(key.sizes) && t.strides().equals(key.strides);
}

// Null where a value cannot be part of a signature (what the pass lets cross is).
c10::optional<InputKey> keyOf(const IValue& v) {
  InputKey key;
  if (v.isTensor()) {
    const at::Tensor& t = v.toTensor();
    if (!t.defined()) {
      key.kind = InputKey::Kind::kUndefinedTensor;
      return key;
    }
    key.kind = InputKey::Kind::kTensor;
    key.dtype = t.scalar_type();
    key.device = t.device();
    key.requires_grad = t.requires_grad();
    key.conj = t.is_conj();
    key.neg = t.is_neg();
    key.sizes = t.sizes().vec();
    key.strides = t.strides().vec();
    return key;
  }
  if (v.isNone() || v.isInt() || v.isBool() || v.isDouble()) {
    key.value = v;
    return key;
  }
  if (v.isIntList()) {
    key.value = IValue(v.toIntList().vec());
    return key;
  }
  return c10::nullopt;
}

// How a call hands out one result of the capture.
struct ResultPlan {
  enum class Kind { kCopy, kViewOfInput, kHostValue, kUndefinedTensor, kEmpty, kTuple };
  Kind kind = Kind::kHostValue;
  size_t source = 0;  // the copy group, or the input viewed
  std::vector<int64_t> sizes;
  std::vector<int64_t> strides;
  int64_t offset = 0;  // in elements: from the group's start, or from the input's data
  IValue value;
  c10::TensorOptions options;        // of an empty tensor
  std::vector<ResultPlan> elements;  // of a tuple
};

// [first, last] element of `t` in its storage; nullopt when it has no element.
c10::optional<std::pair<int64_t, int64_t>> extentOf(const at::Tensor& t) {
  if (t.numel() == 0) return c10::nullopt;
  int64_t last = t.storage_offset();
  for (int64_t d = 0; d < t.dim(); ++d) last += (t.size(d) - 1) * t.stride(d);
  return std::make_pair(t.storage_offset(), last);
}

// Plans results: tensors of the pool are copied out by storage (results sharing one are
// copied together), tensors sharing an input's storage become views of the caller's.
class ResultPlanner {
 public:
  explicit ResultPlanner(const Stack& capture_inputs) : inputs_(capture_inputs) {}

  std::string plan(const IValue& v, ResultPlan* out) {
    if (v.isTuple()) {
      out->kind = ResultPlan::Kind::kTuple;
      const auto& elements = v.toTupleRef().elements();
      out->elements.assign(elements.size(), ResultPlan());
      for (size_t i = 0; i < elements.size(); ++i) {
        std::string why = plan(elements[i], &out->elements[i]);
        if (!why.empty()) return why;
      }
      return {};
    }
    if (!v.isTensor()) {
      out->value = v;
      return {};
    }
    const at::Tensor& t = v.toTensor();
    if (!t.defined()) {
      out->kind = ResultPlan::Kind::kUndefinedTensor;
      return {};
    }
    out->sizes = t.sizes().vec();
    out->strides = t.strides().vec();
    const c10::optional<std::pair<int64_t, int64_t>> extent = extentOf(t);
    if (!extent) {  // nothing to copy: a fresh empty tensor of the same layout
      out->kind = ResultPlan::Kind::kEmpty;
      out->options = t.options();
      return {};
    }
    const c10::StorageImpl* storage = t.storage().unsafeGetStorageImpl();
    for (size_t i = 0; i < inputs_.size(); ++i) {
      if (!inputs_[i].isTensor() || !inputs_[i].toTensor().defined()) continue;
      const at::Tensor& in = inputs_[i].toTensor();
      if (in.storage().unsafeGetStorageImpl() != storage) continue;
      // A view of this input: its elements must lie within the input's own, which a
      // caller's input of the same layout then holds too.
      const c10::optional<std::pair<int64_t, int64_t>> within = extentOf(in);
      if (!within || extent->first < within->first || extent->second > within->second) continue;
      if (in.scalar_type() != t.scalar_type()) return "a result views an input as another dtype";
      out->kind = ResultPlan::Kind::kViewOfInput;
      out->source = i;
      out->offset = t.storage_offset() - in.storage_offset();
      return {};
    }
    for (const IValue& input : inputs_) {
      if (input.isTensor() && input.toTensor().defined() &&
          input.toTensor().storage().unsafeGetStorageImpl() == storage) {
        return "a result shares memory with an input beyond that input's elements";
      }
    }
    if (!t.is_cuda()) return "a result is not on the GPU";
    auto found = groups_.find(storage);
    if (found == groups_.end()) {
      found = groups_.emplace(storage, extents_.size()).first;
      extents_.push_back(*extent);
      members_.push_back(t);
    }
    const size_t g = found->second;
    if (members_[g].scalar_type() != t.scalar_type()) {
      return "results sharing memory have different dtypes";
    }
    extents_[g].first = std::min(extents_[g].first, extent->first);
    extents_[g].second = std::max(extents_[g].second, extent->second);
    out->kind = ResultPlan::Kind::kCopy;
    out->source = g;
    out->offset = t.storage_offset();  // made relative to the group's span by makeRelative
    return {};
  }

  // Per copy group, the 1-D span of the pool its results cover.
  std::vector<at::Tensor> spans() const {
    std::vector<at::Tensor> spans;
    for (size_t g = 0; g < extents_.size(); ++g) {
      const int64_t first = extents_[g].first;
      spans.push_back(members_[g].as_strided({extents_[g].second - first + 1}, {1}, first));
    }
    return spans;
  }

  void makeRelative(ResultPlan* plan) const {
    if (plan->kind == ResultPlan::Kind::kCopy) plan->offset -= extents_[plan->source].first;
    for (ResultPlan& e : plan->elements) makeRelative(&e);
  }

 private:
  const Stack& inputs_;
  std::map<const c10::StorageImpl*, size_t> groups_;  // pool storage -> copy group
  std::vector<std::pair<int64_t, int64_t>> extents_;  // per group: [first, last] element
  std::vector<at::Tensor> members_;                   // per group: a result in it
};

// The switches that pick the kernels cuBLAS and cuDNN launch, baked into a capture: a call
// under other settings gets a capture of its own. Empty where torch will not say: 2.9 and
// later raise when the legacy TF32 switches and the per-op precisions disagree (such a call
// interprets, as eager would run it).
c10::optional<uint64_t> mathModes() {
  at::Context& context = at::globalContext();
  try {
    uint64_t modes = static_cast<uint64_t>(context.allowTF32CuBLAS()) |
                     static_cast<uint64_t>(context.allowTF32CuDNN()) << 1 |
                     static_cast<uint64_t>(context.benchmarkCuDNN()) << 2 |
                     static_cast<uint64_t>(context.deterministicCuDNN()) << 3 |
                     static_cast<uint64_t>(context.deterministicAlgorithms()) << 4 |
                     static_cast<uint64_t>(context.userEnabledCuDNN()) << 5 |
                     static_cast<uint64_t>(context.allowFP16ReductionCuBLAS()) << 6;
#if TORCH_VERSION_MAJOR >= 2
    modes |= static_cast<uint64_t>(context.allowBF16ReductionCuBLAS()) << 7;
#endif
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    // cuBLAS or cuBLASLt for matrix products (torch.backends.cuda.preferred_blas_library).
    modes |= static_cast<uint64_t>(static_cast<uint8_t>(context.blasPreferredBackend())) << 8;
#endif
    return modes | static_cast<uint64_t>(static_cast<uint32_t>(context.benchmarkLimitCuDNN()))
                       << 32;
  } catch (const c10::Error&) {
    return c10::nullopt;
  }
}

struct Capture {
  std::vector<InputKey> key;
  // What else the captured kernels depend on: the math modes (mathModes), the default dtype
  // (eager's type promotion of Python numbers and integer results).
  uint64_t math_modes = 0;
  c10::ScalarType default_dtype = c10::ScalarType::Float;
  int warm_calls = 0;
  int recaptures = 0;
  bool refused = false;
  std::vector<const void*> previous_addresses;
  std::vector<bool> moved;  // per input: not at the same address on two calls

  std::unique_ptr<cuda::CapturedLaunches> launches;
  int64_t stream = 0;  // replays run on the stream the capture call ran on, only
  std::vector<std::shared_ptr<const FusedKernel>> kernels;  // the graph launches them
  std::vector<at::Tensor> buffers;         // per input: what it is copied into, if it is
  std::vector<const void*> read_in_place;  // per input: the address the graph reads
  std::vector<at::Tensor> group_spans;     // per copy group: its span of the pool
  std::vector<ResultPlan> results;
};

// A dense strided tensor with storage and no wrapper (subclass, vmap, functorch).
bool isPlainStrided(const at::Tensor& t) {
  if (t.layout() != c10::kStrided || !t.has_storage()) return false;
  const c10::DispatchKeySet keys = t.key_set();
  return !keys.has(c10::DispatchKey::Python) && !keys.has(c10::DispatchKey::FuncTorchBatched) &&
         !keys.has(c10::DispatchKey::FuncTorchGradWrapper);
}

const void* addressOf(const IValue& v) {
  if (!v.isTensor() || !v.toTensor().defined()) return nullptr;
  return v.toTensor().data_ptr();
}

bool captureEnabled() {
  const DeviceSwitches& s = deviceSwitches();
  return s.enabled.load(std::memory_order_relaxed) && s.cuda.load(std::memory_order_relaxed);
}

class CapturedGraph {
 public:
  explicit CapturedGraph(const std::shared_ptr<torch::jit::Graph>& graph)
      : code_(graph, "captured_graph"), num_inputs_(graph->inputs().size()) {}

  void run(Stack& stack) {
    Stack inputs(stack.end() - static_cast<std::ptrdiff_t>(num_inputs_), stack.end());
    torch::jit::drop(stack, num_inputs_);
    Stack results = call(std::move(inputs));
    for (IValue& v : results) stack.push_back(std::move(v));
  }

 private:
  Stack interpret(Stack inputs) const {
    torch::jit::InterpreterState(code_).run(inputs);
    return inputs;
  }

  Stack call(Stack inputs) {
    const c10::optional<c10::Device> device = captureDevice(inputs);
    if (!device) return interpret(std::move(inputs));
    std::unique_lock<std::mutex> lock(mutex_, std::try_to_lock);
    if (!lock.owns_lock()) return interpret(std::move(inputs));
    Capture* entry = entryFor(inputs);
    if (!entry || entry->refused) return interpret(std::move(inputs));
    // One stream orders every use of the buffers and the pool (a replay on another stream
    // could overlap the previous one): other streams interpret.
    if (entry->launches && entry->stream != cuda::currentStream(*device)) {
      return interpret(std::move(inputs));
    }
    if (entry->launches && !readInPlaceStill(*entry, inputs)) {
      entry->launches.reset();
      if (++entry->recaptures > kMaxRecaptures) refuse(entry, "inputs read in place kept moving");
      if (entry->refused) return interpret(std::move(inputs));
    }
    if (!entry->launches) {
      if (entry->warm_calls < kWarmCalls) return warmUp(entry, std::move(inputs));
      if (!capture(entry, inputs, *device)) return interpret(std::move(inputs));
    }
    return replay(*entry, inputs);
  }

  // The one CUDA device all defined tensors are on, where a capture may serve the call.
  static c10::optional<c10::Device> captureDevice(const Stack& inputs) {
    if (!captureEnabled() || !cuda::canCaptureGraphs()) return c10::nullopt;
    // Autocast picks the dtypes ops compute in, per call; a replay would keep the capture's.
    if (!c10::impl::tls_is_dispatch_key_excluded(c10::DispatchKey::AutocastCUDA)) {
      return c10::nullopt;
    }
    // Dispatch modes (Python) see each op; a replay would hide them.
    if (c10::impl::tls_is_dispatch_key_included(c10::DispatchKey::Python)) return c10::nullopt;
    const bool grad = c10::GradMode::is_enabled();
    c10::optional<c10::Device> device;
    for (const IValue& v : inputs) {
      if (!v.isTensor()) continue;
      const at::Tensor& t = v.toTensor();
      if (!t.defined()) continue;
      if (!t.is_cuda() || (device && *device != t.device())) return c10::nullopt;
      if (!isPlainStrided(t)) return c10::nullopt;
      if (grad && t.requires_grad()) return c10::nullopt;  // autograd must record the ops
      device = t.device();
    }
    if (!device || cuda::isCapturing(*device)) return c10::nullopt;
    return device;
  }

  Capture* entryFor(const Stack& inputs) {
    const c10::optional<uint64_t> math_modes = mathModes();
    if (!math_modes) return nullptr;
    const c10::ScalarType default_dtype = c10::typeMetaToScalarType(c10::get_default_dtype());
    for (Capture& entry : captures_) {
      bool same = entry.math_modes == *math_modes && entry.default_dtype == default_dtype;
      for (size_t i = 0; i < inputs.size() && same; ++i) same = matches(entry.key[i], inputs[i]);
      if (same) return &entry;
    }
    if (captures_.size() >= kMaxSignatures) return nullptr;
    Capture entry;
    entry.math_modes = *math_modes;
    entry.default_dtype = default_dtype;
    for (const IValue& v : inputs) {
      c10::optional<InputKey> key = keyOf(v);
      if (!key) return nullptr;
      entry.key.push_back(std::move(*key));
    }
    entry.moved.assign(inputs.size(), false);
    captures_.push_back(std::move(entry));
    return &captures_.back();
  }

  Stack warmUp(Capture* entry, Stack inputs) {
    std::vector<const void*> addresses;
    for (const IValue& v : inputs) addresses.push_back(addressOf(v));
    if (!entry->previous_addresses.empty()) {
      for (size_t i = 0; i < addresses.size(); ++i) {
        if (addresses[i] != entry->previous_addresses[i]) entry->moved[i] = true;
      }
    }
    entry->previous_addresses = addresses;
    const int64_t fallbacks = threadFallbacks();
    Stack results = interpret(std::move(inputs));
    // A kernel still compiling ran its fallback: a capture now would keep that for good.
    const bool waited = threadFallbacks() != fallbacks && backgroundCompilesPending() > 0;
    entry->warm_calls = waited ? 0 : entry->warm_calls + 1;
    return results;
  }

  bool readInPlaceStill(Capture& entry, const Stack& inputs) {
    bool still = true;
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (entry.read_in_place[i] && addressOf(inputs[i]) != entry.read_in_place[i]) {
        entry.moved[i] = true;
        still = false;
      }
    }
    return still;
  }

  void refuse(Capture* entry, const std::string& why) {
    entry->refused = true;
    entry->launches.reset();
    entry->kernels.clear();
    entry->buffers.clear();
    entry->group_spans.clear();
    entry->results.clear();
    if (debugLevel() >= 1) {
      std::cerr << "[torch_fuser] a CUDA graph capture runs in the interpreter: " << why << "\n";
    }
  }

  bool capture(Capture* entry, const Stack& inputs, c10::Device device) {
    Stack capture_inputs;
    entry->buffers.assign(inputs.size(), at::Tensor());
    entry->read_in_place.assign(inputs.size(), nullptr);
    std::vector<at::Tensor> copy_to;
    std::vector<at::Tensor> copy_from;
    for (size_t i = 0; i < inputs.size(); ++i) {
      const IValue& v = inputs[i];
      const void* address = addressOf(v);
      if (!address) {
        capture_inputs.push_back(v);
        continue;
      }
      const at::Tensor& t = v.toTensor();
      if (!entry->moved[i]) {
        entry->read_in_place[i] = address;
        capture_inputs.push_back(v);
        continue;
      }
      if (!t.is_non_overlapping_and_dense()) {
        refuse(entry, "an input that changes address between calls is not dense");
        return false;
      }
      // Not inference tensors, whatever mode the capture call runs in: later calls copy in.
      c10::InferenceMode normal(false);
      entry->buffers[i] = at::empty_strided(t.sizes(), t.strides(), t.options());
      copy_to.push_back(entry->buffers[i]);
      copy_from.push_back(t);
      capture_inputs.push_back(entry->buffers[i]);
    }
    cuda::copyAll(copy_to, copy_from);

    Stack pool_results;
    std::string why;
    try {
      LaunchedKernelKeeper keeper;
      entry->launches = cuda::capture(device, [&] {
        pool_results = capture_inputs;
        torch::jit::InterpreterState(code_).run(pool_results);
      });
      entry->kernels = keeper.take();
      why = planResults(entry, capture_inputs, pool_results);
    } catch (const std::exception& e) {
      why = std::string("the capture failed: ") + e.what();
    }
    if (!why.empty()) {
      refuse(entry, why);
      return false;
    }
    entry->stream = cuda::currentStream(device);
    stats().graphs_captured++;
    if (debugLevel() >= 1) {
      std::cerr << "[torch_fuser] captured a CUDA graph on " << device << ": " << inputs.size()
                << " inputs (" << copy_to.size() << " copied per call), " << entry->results.size()
                << " results\n";
    }
    return true;
  }

  // How each result of the capture is handed out; empty if all can be, else why not.
  static std::string planResults(Capture* entry, const Stack& capture_inputs,
                                 const Stack& results) {
    ResultPlanner planner{capture_inputs};
    entry->results.assign(results.size(), ResultPlan());
    for (size_t i = 0; i < results.size(); ++i) {
      std::string why = planner.plan(results[i], &entry->results[i]);
      if (!why.empty()) return why;
    }
    entry->group_spans = planner.spans();
    for (ResultPlan& plan : entry->results) planner.makeRelative(&plan);
    return {};
  }

  Stack replay(Capture& entry, const Stack& inputs) {
    std::vector<at::Tensor> copy_to;
    std::vector<at::Tensor> copy_from;
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (!entry.buffers[i].defined()) continue;
      copy_to.push_back(entry.buffers[i]);
      copy_from.push_back(inputs[i].toTensor());
    }
    cuda::copyAll(copy_to, copy_from);
    entry.launches->replay();

    const std::vector<at::Tensor> fresh = freshCopies(entry);

    Stack results;
    results.reserve(entry.results.size());
    for (const ResultPlan& plan : entry.results) results.push_back(handOut(plan, fresh, inputs));
    stats().graph_replays++;
    return results;
  }

  static IValue handOut(const ResultPlan& plan, const std::vector<at::Tensor>& fresh,
                        const Stack& inputs) {
    switch (plan.kind) {
      case ResultPlan::Kind::kHostValue:
        return plan.value.isIntList() ? IValue(plan.value.toIntList().vec()) : plan.value;
      case ResultPlan::Kind::kUndefinedTensor:
        return at::Tensor();
      case ResultPlan::Kind::kEmpty:
        return at::empty_strided(plan.sizes, plan.strides, plan.options);
      case ResultPlan::Kind::kCopy:
        return tensorOn(fresh[plan.source].storage(), fresh[plan.source], plan.sizes, plan.strides,
                        fresh[plan.source].storage_offset() + plan.offset);
      case ResultPlan::Kind::kViewOfInput: {
        const at::Tensor& in = inputs[plan.source].toTensor();
        return in.as_strided(plan.sizes, plan.strides, in.storage_offset() + plan.offset);
      }
      case ResultPlan::Kind::kTuple: {
        std::vector<IValue> elements;
        elements.reserve(plan.elements.size());
        for (const ResultPlan& e : plan.elements) elements.push_back(handOut(e, fresh, inputs));
        return c10::ivalue::Tuple::create(std::move(elements));
      }
    }
    TORCH_INTERNAL_ASSERT(false, "captured graph: a result plan of unknown kind");
  }

  // Copies of the copy groups' spans, out of the pool. Small spans of one dtype share one
  // allocation (a replay of an unrolled loop hands out hundreds of results), each in a
  // storage of its own that keeps the allocation alive (exact sizes: resize_ or out=
  // reallocate as for any tensor instead of growing into a neighbour).
  static std::vector<at::Tensor> freshCopies(const Capture& entry) {
    const std::vector<at::Tensor>& spans = entry.group_spans;
    std::vector<at::Tensor> fresh(spans.size());
    std::map<c10::ScalarType, int64_t> shared_elements;
    for (const at::Tensor& span : spans) {
      if (span.nbytes() <= kSharedSpanBytes) shared_elements[span.scalar_type()] += padded(span);
    }
    std::map<c10::ScalarType, std::pair<at::Tensor, int64_t>> blocks;  // block, next offset
    for (const auto& dtype : shared_elements) {
      if (dtype.second == 0) continue;
      blocks[dtype.first] = {at::empty({dtype.second}, spans.front().options().dtype(dtype.first)),
                             0};
    }
    for (size_t g = 0; g < spans.size(); ++g) {
      const at::Tensor& span = spans[g];
      auto block = blocks.find(span.scalar_type());
      if (span.nbytes() > kSharedSpanBytes || block == blocks.end()) {
        fresh[g] = at::empty_like(span);
        continue;
      }
      const at::Tensor& shared = block->second.first;
      fresh[g] = tensorOn(storageInto(shared, block->second.second, span.numel()), shared,
                          span.sizes(), {1}, 0);
      block->second.second += padded(span);
    }
    cuda::copyAll(fresh, spans);
    return fresh;
  }

  // Elements of a span rounded up to 64 bytes, so each copy starts aligned.
  static int64_t padded(const at::Tensor& span) {
    const int64_t per_line = std::max<int64_t>(64 / static_cast<int64_t>(span.element_size()), 1);
    return (span.numel() + per_line - 1) / per_line * per_line;
  }

  // `numel` elements of `block` from `offset` on, as a storage of their own.
  static c10::Storage storageInto(const at::Tensor& block, int64_t offset, int64_t numel) {
    auto* owner = new at::Tensor(block);
    char* data = static_cast<char*>(block.data_ptr()) + offset * block.element_size();
    c10::DataPtr ptr(
        data, owner, [](void* context) { delete static_cast<at::Tensor*>(context); },
        block.device());
    return c10::Storage(c10::Storage::use_byte_size_t(),
                        static_cast<int64_t>(numel * block.element_size()), std::move(ptr),
                        c10::GetAllocator(block.device().type()), /*resizable=*/true);
  }

  // A tensor (not a view) over `storage`, typed as `like`.
  static at::Tensor tensorOn(c10::Storage storage, const at::Tensor& like, at::IntArrayRef sizes,
                             at::IntArrayRef strides, int64_t offset) {
    auto impl =
        c10::make_intrusive<c10::TensorImpl>(std::move(storage), like.key_set(), like.dtype());
    impl->set_sizes_and_strides(sizes, strides);
    impl->set_storage_offset(offset);
    return at::Tensor(std::move(impl));
  }

  torch::jit::Code code_;
  size_t num_inputs_;
  std::mutex mutex_;
  std::vector<Capture> captures_;
};

}  // namespace

torch::jit::Operation createCaptureBarrierOperation(const torch::jit::Node*) {
  return [](Stack&) {
    TORCH_CHECK(!cuda::insideCapture(),
                "torch_fuser: a fallback path is not captured into a CUDA graph");
  };
}

torch::jit::Operation createCapturedGraphOperation(const torch::jit::Node* node) {
  auto captured = std::make_shared<CapturedGraph>(node->g(c10::attr::Subgraph));
  return [captured](Stack& stack) { captured->run(stack); };
}

}  // namespace torch_fuser
