#include "torch/csrc/jit/codegen/fuser/executor.h"

#include "torch/csrc/jit/codegen/fuser/arg_spec.h"
#include "torch/csrc/jit/codegen/fuser/compiler.h"
#include "torch/csrc/jit/codegen/fuser/fallback.h"
#include "torch/csrc/jit/codegen/fuser/kernel_spec.h"
#include "torch/csrc/jit/codegen/fuser/options.h"
#include "torch/csrc/jit/codegen/fuser/tensor_view.h"

#include <ATen/ExpandUtils.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_strided.h>
#include <ATen/record_function.h>
#include <c10/core/DefaultDtype.h>
#include <c10/core/GradMode.h>
#include <c10/core/WrapDimMinimal.h>

#include <algorithm>
#include <limits>

namespace torch_fuser {
namespace {

using Shape = c10::SmallVector<int64_t, 6>;

thread_local KernelSourceRecorder* current_recorder = nullptr;
thread_local LaunchedKernelKeeper* current_keeper = nullptr;

// Broadcasts `sizes` into `shape` (right-aligned) as eager does; false if incompatible.
bool broadcastInto(Shape& shape, c10::IntArrayRef sizes) {
  if (sizes.size() > shape.size()) shape.insert(shape.begin(), sizes.size() - shape.size(), 1);
  const size_t offset = shape.size() - sizes.size();
  for (size_t d = 0; d < sizes.size(); ++d) {
    int64_t& target = shape[offset + d];
    if (sizes[d] == target || sizes[d] == 1) continue;
    if (target != 1) return false;
    target = sizes[d];
  }
  return true;
}

TensorDesc describe(const TensorView& t, const Shape& shape) {
  TensorDesc desc{t.dtype, static_cast<uint8_t>(t.dim()), TensorLayout::kStrided};
  if (t.numel() == 1) {
    desc.layout = TensorLayout::kScalar;
  } else if (t.shape().equals(shape) && t.isContiguous()) {
    desc.layout = TensorLayout::kFlat;
  } else if (t.dim() == 0 || t.sizes.back() == 1) {
    desc.inner = shape.back() == 1 ? InnerStride::kAny : InnerStride::kZero;
  } else if (t.strides.back() == 1) {
    desc.inner = InnerStride::kUnit;
  }
  return desc;
}

ScalarKind scalarKindOf(const c10::IValue& v) {
  if (v.isDouble()) return ScalarKind::kDouble;
  if (v.isInt()) return ScalarKind::kInt;
  return ScalarKind::kBool;
}

// Everything one launch needs, built on the stack of runKernelSpec.
struct Call {
  c10::SmallVector<const at::Tensor*, 8> inputs;  // the fusion's tensor inputs
  c10::SmallVector<TensorView, 24> tensors;       // what the kernel reads (kernelTensors())
  c10::SmallVector<const c10::IValue*, 4> scalars;
  at::ArrayRef<c10::IValue> all_inputs;  // as on the stack, sizes of sums included
  c10::optional<c10::Device> device;
  Shape shape;
  // Set when the call iterates in the inputs' memory order (iterateInMemoryOrder): the
  // permutation that gives outputs back their order.
  c10::SmallVector<int64_t, 6> restore;
};

// Fills `call` from the inputs; returns why the kernel cannot run, or "".
std::string classifyInputs(const KernelSpec& spec, at::ArrayRef<c10::IValue> inputs, Call& call) {
  const bool grad = c10::GradMode::is_enabled();
  call.all_inputs = inputs;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const c10::IValue& v = inputs[i];
    if (spec.inputIsSizeList(i)) {
      if (!v.isNone() && !v.isIntList()) return "a size input is neither None nor a list of ints";
      continue;
    }
    if (!spec.inputIsTensor(i)) {
      if (!v.isDouble() && !v.isInt() && !v.isBool()) return "a scalar input is not a number";
      call.scalars.push_back(&v);
      continue;
    }
    if (!v.isTensor()) return "a tensor input is not a Tensor";
    const at::Tensor& t = v.toTensor();
    if (!t.defined()) return "an input tensor is undefined";
    if (t.layout() != c10::kStrided) return "an input tensor is not strided (sparse or mkldnn)";
    if (grad && t.requires_grad())
      return "an input requires grad (autograd runs in the interpreter)";
    if (!call.device) {
      call.device = t.device();
    } else if (*call.device != t.device()) {
      return "inputs are on different devices";
    }
    call.inputs.push_back(&t);
  }
  if (call.inputs.empty()) return "the fusion has no tensor input";
  return {};
}

// Lists the tensors the kernel reads, cutting chunked inputs into views as
// prim::ConstantChunk (at::chunk) does.
std::string gatherKernelTensors(const KernelSpec& spec, Call& call) {
  const std::vector<KernelTensor>& tensors = spec.kernelTensors();
  c10::SmallVector<int64_t, 4> push_ranks;  // largest input rank per pushed chunk
  for (size_t index = 0; index < tensors.size(); ++index) {
    const KernelTensor& k = tensors[index];
    const at::Tensor& input = *call.inputs[spec.tensorInputPosition(index)];
    call.tensors.push_back(TensorView::of(input));
    for (const ViewStep& step : k.views) {
      std::string why = call.tensors.back().apply(step);
      if (!why.empty()) return "a view of an input: " + why + " (eager raises)";
    }
    if (!k.chunk) continue;
    if (k.push >= 0 && push_ranks.size() <= static_cast<size_t>(k.push)) {
      push_ranks.resize(k.push + 1, 0);
    }
    if (input.dim() == 0) {
      // A zero-dim input of a pushed chunk is the same in every piece.
      if (k.push < 0) return "chunk of a zero-dim tensor";
      continue;
    }
    if (k.push >= 0) {
      // A pushed chunk: this input is one the chunked value was computed from. It must
      // span the chunked dimension (not broadcast along it), and the value must have the
      // rank the dim was resolved with.
      if (-k.dim > input.dim()) return "an input is broadcast along a chunked dimension";
      push_ranks[k.push] = std::max<int64_t>(push_ranks[k.push], input.dim());
    }
    const int64_t dim = c10::maybe_wrap_dim(k.dim, input.dim());
    const int64_t size = input.size(dim);
    const int64_t piece = (size + k.chunks - 1) / k.chunks;
    const int64_t start = piece * k.piece;
    if (start >= size) return "chunk gives fewer pieces than the graph expects";
    call.tensors.back().narrow(dim, start, std::min(piece, size - start));
  }
  for (const KernelTensor& k : tensors) {
    if (k.push >= 0 && push_ranks[k.push] == 0) return "chunk of a zero-dim value (eager raises)";
    if (k.rank > 0 && push_ranks[k.push] != k.rank) {
      return "a chunked value has another rank than when the graph was fused";
    }
  }
  return {};
}

std::string deviceRefusal(c10::Device device) {
  const DeviceSwitches& switches = deviceSwitches();
  if (!switches.enabled.load(std::memory_order_relaxed)) return "torch_fuser is disabled";
  if (device.is_cpu()) {
    if (!switches.cpu.load(std::memory_order_relaxed)) return "CPU fusion is disabled";
    return {};
  }
  if (device.is_cuda()) {
    if (!switches.cuda.load(std::memory_order_relaxed)) return "CUDA fusion is disabled";
    if (!backendAvailable(c10::DeviceType::CUDA)) return "this build has no CUDA backend";
    return {};
  }
  return "no backend for this device type";
}

// Outputs computed from a subset of the inputs may have a smaller shape than the
// iteration space; one kernel writes every output over the whole space, so such calls
// fall back. Likewise a rand_like of a broadcast value (its numbers would not repeat
// along the broadcast as eager's do).
bool outputsHaveIterationShape(const KernelSpec& spec, const Call& call) {
  if (spec.outputsDependOnAllInputs()) return true;
  const auto spansIterationSpace = [&call](const std::vector<int>& deps) {
    Shape shape;
    for (int t : deps) broadcastInto(shape, call.tensors[t].shape());
    return c10::IntArrayRef(shape).equals(call.shape);
  };
  for (size_t o = 0; o < spec.numOutputs(); ++o) {
    if (!spansIterationSpace(spec.outputTensorDeps(o))) return false;
  }
  const std::vector<std::vector<int>>& random = spec.randomTensorDeps();
  return std::all_of(random.begin(), random.end(), spansIterationSpace);
}

// Whether a _grad_sum_to_size has nothing to reduce in this call (its size is None).
bool sumIsIdentity(const SumToSize& sum, const Call& call) {
  return sum.input >= 0 && call.all_inputs[sum.input].isNone();
}

// Reduces the outputs computed for a _grad_sum_to_size at an output of the fusion to
// their sizes, as eager does (at::sum_to; it raises eager's error for a size that the
// value does not broadcast from).
void applyOutputSums(const KernelSpec& spec, const Call& call,
                     c10::SmallVectorImpl<at::Tensor>& outputs) {
  for (size_t o = 0; o < outputs.size(); ++o) {
    const c10::optional<SumToSize>& sum = spec.outputs()[o].sum;
    if (!sum || sumIsIdentity(*sum, call)) continue;
    if (sum->input < 0) {
      outputs[o] = at::sum_to(outputs[o], sum->sizes);
    } else {
      outputs[o] = at::sum_to(outputs[o], call.all_inputs[sum->input].toIntVector());
    }
  }
}

// How one fusion output is written in this call. A concatenation's result has the
// iteration shape with `dim` grown `pieces` times, piece k being the slice
// [k * size, (k + 1) * size) along `dim`; a stack's result has a new dim `dim` of size
// `pieces`, piece k being index k along it. Kernel output k of the join writes piece k.
struct OutputPlan {
  const FusionOutput* output = nullptr;
  int64_t dim = 0;      // joins only, wrapped
  OutputLayout layout;  // of each piece
};

// Plans every output of the call; returns why it cannot run as a kernel, or "".
std::string planOutputs(const KernelSpec& spec, const Call& call,
                        c10::SmallVectorImpl<OutputPlan>& plans) {
  const int64_t rank = static_cast<int64_t>(call.shape.size());
  for (const FusionOutput& output : spec.outputs()) {
    OutputPlan plan;
    plan.output = &output;
    if (output.join) {
      if (rank == 0 && !output.stack) return "a concatenation of zero-dim tensors (eager raises)";
      // A stack's dim may also name the new last dim.
      const int64_t result_rank = output.stack ? rank + 1 : rank;
      const int64_t dim = output.dim;
      if (dim < -result_rank || dim >= result_rank) {
        return "a join's dim is out of range (eager raises)";
      }
      plan.dim = dim < 0 ? dim + result_rank : dim;
      // Slices along the outermost dimension of size > 1 are contiguous; a stack along
      // the last dim interleaves its pieces element by element.
      int64_t outer = 1;
      for (int64_t d = 0; d < plan.dim && d < rank; ++d) outer *= call.shape[d];
      if (output.stack && plan.dim == rank && rank > 0) {
        plan.layout = {TensorLayout::kStrided, InnerStride::kAny};
      } else if (outer > 1) {
        plan.layout = {TensorLayout::kStrided, InnerStride::kUnit};
      }
    }
    plans.push_back(plan);
  }
  return {};
}

// Whether every element offset of the call fits 32-bit index math (GPU kernels use it
// when they can: 64-bit division is several times slower there; CPU kernels for strided
// offsets, which then gather with twice the lanes).
bool fitsIndex32(const Call& call, at::ArrayRef<OutputPlan> plans) {
  // CPU row loops step offsets one stride past a row's end before wrapping: half the
  // range keeps that step in range too.
  const int64_t kMax = std::numeric_limits<int32_t>::max() / (call.device->is_cpu() ? 2 : 1);
  const int64_t numel = c10::multiply_integers(call.shape);
  for (const OutputPlan& plan : plans) {
    if (numel > kMax / static_cast<int64_t>(plan.output->pieces)) return false;
  }
  for (const TensorView& t : call.tensors) {
    int64_t furthest = 0;
    for (int64_t d = 0; d < t.dim(); ++d) furthest += (t.sizes[d] - 1) * t.strides[d];
    if (furthest > kMax) return false;
  }
  return true;
}

// A tensor of `shape` contiguous in iteration order; with `restore` (see Call) its dims are
// given back in the logical order, its memory staying in iteration order.
at::Tensor allocateOutput(const Shape& shape, const Shape& strides, c10::ArrayRef<int64_t> restore,
                          const at::TensorOptions& options) {
  if (restore.empty()) return at::empty(shape, options);
  Shape sizes(shape.size()), logical_strides(shape.size());
  for (size_t d = 0; d < shape.size(); ++d) {
    sizes[d] = shape[restore[d]];
    logical_strides[d] = strides[restore[d]];
  }
  return at::empty_strided(sizes, logical_strides, options);
}

// Allocates the fusion's outputs and lists where each kernel output goes: its data
// pointer and, for strided slices, its strides over the iteration space (appended to
// `strides`, which holds the inputs' already).
void allocateOutputs(const Call& call, at::ArrayRef<OutputPlan> plans,
                     const CompiledKernel& compiled, c10::SmallVectorImpl<at::Tensor>& outputs,
                     c10::SmallVectorImpl<void*>& data, c10::SmallVectorImpl<int64_t>& strides) {
  const size_t rank = call.shape.size();
  size_t kernel_output = 0;
  for (const OutputPlan& plan : plans) {
    const auto options =
        at::TensorOptions().dtype(compiled.output_dtypes[kernel_output]).device(*call.device);
    const int64_t pieces = static_cast<int64_t>(plan.output->pieces);
    Shape shape = call.shape;
    if (plan.output->stack) {
      shape.insert(shape.begin() + plan.dim, pieces);
    } else if (pieces > 1) {
      shape[plan.dim] *= pieces;
    }
    // The result is contiguous (in iteration order): strides are suffix products.
    Shape result_strides(shape.size(), 1);
    for (size_t d = shape.size(); d-- > 1;) result_strides[d - 1] = result_strides[d] * shape[d];
    outputs.push_back(allocateOutput(shape, result_strides, call.restore, options));
    char* base = static_cast<char*>(outputs.back().data_ptr());
    const int64_t element = static_cast<int64_t>(outputs.back().element_size());
    int64_t piece_step = 0;
    if (plan.output->stack) {
      piece_step = result_strides[plan.dim];
    } else if (pieces > 1) {
      piece_step = call.shape[plan.dim] * result_strides[plan.dim];
    }
    for (int64_t k = 0; k < pieces; ++k) {
      data.push_back(base + piece_step * k * element);
      for (size_t d = 0; d < rank; ++d) {
        // Iteration dim d is result dim d, or d + 1 past a stack's new dim.
        const size_t result_dim =
            plan.output->stack && static_cast<int64_t>(d) >= plan.dim ? d + 1 : d;
        const bool strided = plan.layout.layout == TensorLayout::kStrided && call.shape[d] != 1;
        strides.push_back(strided ? result_strides[result_dim] : 0);
      }
    }
    kernel_output += plan.output->pieces;
  }
}

// Outputs take the dense layout of the inputs, as eager's do (TensorIterator): when the
// result's layout (resultOrder) is a permuted dense one (transposed, channels_last), the
// call iterates in that order — where inputs laid out alike are contiguous — and outputs
// allocated contiguous in it come back with its strides. Reading a transposed input against its
// memory order costs several times the contiguous pass. Joins keep logical order (their slices
// follow the iteration dims). The dims of `t` from the largest stride to the smallest (ties keep
// their order): the order the iteration follows to read it as it lies in memory.
c10::SmallVector<int64_t, 6> memoryOrder(const TensorView& t) {
  c10::SmallVector<int64_t, 6> order(static_cast<size_t>(t.dim()));
  for (size_t d = 0; d < order.size(); ++d) order[d] = static_cast<int64_t>(d);
  std::stable_sort(order.begin(), order.end(),
                   [&t](int64_t a, int64_t b) { return t.strides[a] > t.strides[b]; });
  return order;
}

bool spansIterationSpace(const TensorView& t, const Shape& shape) {
  return t.shape().equals(shape);
}

// The layout the result takes, as the order to iterate in; empty for the logical order.
// Eager's result follows its first operand; where that is broadcast, the inputs spanning
// the iteration space decide when they agree (else the result is contiguous: never a
// layout eager might not give, which a later view() could reject).
c10::SmallVector<int64_t, 6> resultOrder(const KernelSpec& spec, const Call& call) {
  const int first = spec.layoutTensor();
  const TensorView* decides = nullptr;
  if (first >= 0 && spansIterationSpace(call.tensors[first], call.shape)) {
    decides = &call.tensors[first];
  } else {
    for (const TensorView& t : call.tensors) {
      if (spansIterationSpace(t, call.shape) && t.isNonOverlappingAndDense()) {
        if (!decides) {
          decides = &t;
        } else if (memoryOrder(t) != memoryOrder(*decides)) {
          return {};
        }
      }
    }
  }
  if (!decides || decides->isContiguous() || !decides->isNonOverlappingAndDense()) return {};
  return memoryOrder(*decides);
}

void iterateInMemoryOrder(const KernelSpec& spec, Call& call) {
  const size_t rank = call.shape.size();
  if (rank < 2 || spec.hasJoins()) return;
  const c10::SmallVector<int64_t, 6> order = resultOrder(spec, call);
  bool identity = true;
  for (size_t d = 0; d < order.size(); ++d)
    identity = identity && order[d] == static_cast<int64_t>(d);
  if (identity) return;
  for (TensorView& t : call.tensors) {
    // Zero-dim tensors stay as they are: their rank decides type promotion, and the kernel
    // reads their one element wherever the iteration goes.
    if (t.dim() == 0) continue;
    t.alignTo(rank);  // broadcast inputs get the iteration rank first
    t.permute(order);
  }
  Shape shape(rank);
  call.restore.resize(rank);
  for (size_t d = 0; d < rank; ++d) {
    shape[d] = call.shape[order[d]];
    call.restore[order[d]] = static_cast<int64_t>(d);
  }
  call.shape = shape;
}

std::string launch(KernelSpec& spec, const Call& call, torch::jit::Stack& stack) {
  c10::SmallVector<OutputPlan, 4> plans;
  std::string why = planOutputs(spec, call, plans);
  if (!why.empty()) return why;
  const bool index32 = fitsIndex32(call, plans);
  ArgSpec arg_spec(*call.device, static_cast<int>(call.shape.size()),
                   c10::typeMetaToScalarType(c10::get_default_dtype()), index32);
  for (const TensorView& t : call.tensors) arg_spec.addTensor(describe(t, call.shape));
  for (const c10::IValue* s : call.scalars) arg_spec.addScalar(scalarKindOf(*s));
  for (const OutputPlan& plan : plans) {
    for (size_t k = 0; k < plan.output->pieces; ++k) arg_spec.addOutput(plan.layout);
  }

  const CompiledKernel& compiled = spec.kernelForLaunch(arg_spec);
  if (!compiled.kernel) return compiled.fallback_reason;
  if (current_recorder) current_recorder->record(compiled.source);
  if (current_keeper) current_keeper->keep(compiled.kernel);

  const size_t rank = call.shape.size();
  c10::SmallVector<void*, 32> data;
  c10::SmallVector<int64_t, 96> strides(call.tensors.size() * rank, 0);
  for (size_t t = 0; t < call.tensors.size(); ++t) {
    const TensorView& tensor = call.tensors[t];
    data.push_back(tensor.data);
    if (arg_spec.tensors()[t].layout != TensorLayout::kStrided) continue;
    const size_t offset = rank - static_cast<size_t>(tensor.dim());
    for (int64_t d = 0; d < tensor.dim(); ++d) {
      strides[t * rank + offset + d] = tensor.sizes[d] == 1 ? 0 : tensor.strides[d];
    }
  }
  c10::SmallVector<at::Tensor, 4> outputs;
  allocateOutputs(call, plans, compiled, outputs, data, strides);
  const int64_t numel = c10::multiply_integers(call.shape);
  if (numel > 0) {
    c10::SmallVector<double, 4> fscalars;
    c10::SmallVector<int64_t, 4> iscalars;
    for (const c10::IValue* s : call.scalars) {
      if (s->isDouble()) {
        fscalars.push_back(s->toDouble());
      } else {
        iscalars.push_back(s->isInt() ? s->toInt() : static_cast<int64_t>(s->toBool()));
      }
    }
    const TfKernelArgs args{data.data(), strides.data(), call.shape.data(), fscalars.data(),
                            iscalars.data()};
    compiled.kernel->launch(args, numel);
  }
  countKernelLaunch();
  spec.countLaunch();
  applyOutputSums(spec, call, outputs);
  torch::jit::drop(stack, spec.numInputs());
  for (at::Tensor& out : outputs) stack.emplace_back(std::move(out));
  return {};
}

std::string tryRunKernel(KernelSpec& spec, torch::jit::Stack& stack) {
  Call call;
  std::string why = classifyInputs(spec, torch::jit::last(stack, spec.numInputs()), call);
  if (!why.empty()) return why;
  why = gatherKernelTensors(spec, call);
  if (!why.empty()) return why;
  why = deviceRefusal(*call.device);
  if (!why.empty()) return why;
  for (const SumToSize& sum : spec.innerSumTos()) {
    if (!sumIsIdentity(sum, call)) {
      return "a _grad_sum_to_size read inside the fusion has to reduce (only one at an output can)";
    }
  }
  for (const TensorView& t : call.tensors) {
    if (!broadcastInto(call.shape, t.shape())) {
      return "input shapes do not broadcast (the interpreter raises eager's error)";
    }
  }
  if (!outputsHaveIterationShape(spec, call)) {
    return "an output, or a rand_like's self, is smaller than the iteration space (it depends "
           "on broadcast inputs only)";
  }
  iterateInMemoryOrder(spec, call);
  return launch(spec, call, stack);
}

}  // namespace

void runKernelSpec(KernelSpec& spec, torch::jit::Stack& stack) {
  // A profiler record named after the fusion's ops (what explain() and
  // PYTORCH_FUSION_DEBUG call it); without an active profiler only a flag check.
  const at::ArrayRef<c10::IValue> inputs = torch::jit::last(stack, spec.numInputs());
  RECORD_FUNCTION(spec.name(), c10::ArrayRef<const c10::IValue>(inputs.data(), inputs.size()));
  const std::string why = tryRunKernel(spec, stack);
  if (!why.empty()) {
    spec.noteFallback(why);
    runFallback(spec, stack);
  }
}

LaunchedKernelKeeper::LaunchedKernelKeeper() : previous_(current_keeper) {
  current_keeper = this;
}

LaunchedKernelKeeper::~LaunchedKernelKeeper() {
  current_keeper = previous_;
}

void LaunchedKernelKeeper::keep(const std::shared_ptr<FusedKernel>& kernel) {
  if (std::find(kernels_.begin(), kernels_.end(), kernel) == kernels_.end()) {
    kernels_.push_back(kernel);
  }
}

KernelSourceRecorder::KernelSourceRecorder() : previous_(current_recorder) {
  current_recorder = this;
}

KernelSourceRecorder::~KernelSourceRecorder() {
  current_recorder = previous_;
}

void KernelSourceRecorder::record(const std::string& source) {
  if (std::find(sources_.begin(), sources_.end(), source) == sources_.end()) {
    sources_.push_back(source);
  }
}

}  // namespace torch_fuser
