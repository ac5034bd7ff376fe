#include "test/cpp/jit/random_graphs.h"

#include "test/cpp/jit/test_utils.h"

#include <ATen/CPUGeneratorImpl.h>
#include "torch/csrc/jit/codegen/fuser/options.h"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <sstream>
#include <unordered_map>

namespace torch_fuser {
namespace testing {
namespace {

using Rng = std::mt19937_64;

int uniform(Rng& rng, int lo, int hi) {
  return std::uniform_int_distribution<int>(lo, hi)(rng);
}
bool chance(Rng& rng, double p) {
  return std::bernoulli_distribution(p)(rng);
}
template <typename T>
const T& pick(Rng& rng, const std::vector<T>& items) {
  return items[uniform(rng, 0, static_cast<int>(items.size()) - 1)];
}

struct GraphBuilder {
  explicit GraphBuilder(Rng& r) : rng(r) {}
  Rng& rng;
  std::ostringstream body;
  std::vector<std::string> values;  // tensor values usable as operands
  std::vector<std::string> inputs;  // the graph's tensor inputs
  // Per input: whether every value converts to int32 with a defined result (float NaN,
  // infinities and out-of-range values do not: eager's own vector and scalar paths give
  // different integers for them).
  std::vector<bool> int32_convertible;
  std::vector<std::string> scalars;  // float scalar values (inputs and constants)
  int next = 0;

  std::string fresh() { return "%v" + std::to_string(next++); }

  std::string constant(double v) {
    const std::string name = fresh();
    body << "  " << name << " : float = prim::Constant[value=" << v << "]()\n";
    return name;
  }
  std::string intConstant(int64_t v) {
    const std::string name = fresh();
    body << "  " << name << " : int = prim::Constant[value=" << v << "]()\n";
    return name;
  }
  std::string scalarOperand() {
    if (!scalars.empty() && chance(rng, 0.4)) return pick(rng, scalars);
    static const std::vector<double> interesting = {0.5, -1.5, 2.0, 3.0, 0.0, -0.5, 1.0, 1e-3};
    return constant(pick(rng, interesting));
  }
  std::string emit(const std::string& call) {
    const std::string name = fresh();
    body << "  " << name << " : Tensor = " << call << "\n";
    values.push_back(name);
    return name;
  }

  // A bool tensor comparing lhs with rhs (not an operand for arithmetic).
  std::string condition(const std::string& lhs, const std::string& rhs) {
    static const std::vector<std::string> compare = {"eq", "ne", "lt", "le", "gt", "ge"};
    const std::string name = fresh();
    body << "  " << name << " : Tensor = aten::" << pick(rng, compare) << "(" << lhs << ", " << rhs
         << ")\n";
    return name;
  }

  // One random op for integer and bool tensors whose first operand is `lhs`. Values stay
  // small, so only multiplication chains reach the wrap-around.
  std::string integerOp(const std::string& lhs) {
    static const std::vector<std::string> unary = {"neg",  "abs",  "bitwise_not", "logical_not",
                                                   "sign", "relu", "floor"};
    static const std::vector<std::string> binary = {
        "add",         "sub",        "mul",         "maximum",     "minimum",
        "bitwise_and", "bitwise_or", "bitwise_xor", "logical_and", "logical_or",
        "logical_xor", "__and__",    "__or__",      "__xor__"};
    static const std::vector<std::string> by_constant = {"floor_divide", "remainder", "fmod"};
    const std::string rhs = pick(rng, values);
    const std::string small = intConstant(uniform(rng, 0, 5));
    switch (uniform(rng, 0, 9)) {
      case 0:
      case 1:
        return emit("aten::" + pick(rng, unary) + "(" + lhs + ")");
      case 2:
      case 3: {
        const std::string name = pick(rng, binary);
        const bool scalar_ok =
            name.find("logical") == std::string::npos && name != "maximum" && name != "minimum";
        const std::string other = (scalar_ok && chance(rng, 0.3)) ? small : rhs;
        if (name == "add" || name == "sub") {
          return emit("aten::" + name + "(" + lhs + ", " + other + ", " +
                      intConstant(uniform(rng, 1, 2)) + ")");
        }
        return emit("aten::" + name + "(" + lhs + ", " + other + ")");
      }
      case 4:
        return emit("aten::" + pick(rng, by_constant) + "(" + lhs + ", " +
                    intConstant(chance(rng, 0.2) ? -1 : uniform(rng, 1, 7)) + ")");
      case 5:
        return emit("aten::pow(" + lhs + ", " + intConstant(uniform(rng, 0, 3)) + ")");
      case 6:
        return emit("aten::clamp(" + lhs + ", " + intConstant(uniform(rng, -3, 0)) + ", " +
                    intConstant(uniform(rng, 1, 9)) + ")");
      case 9: {
        // Shifts by counts every torch defines (0..7: within every integer width).
        static const std::vector<std::string> shifts = {
            "__lshift__", "__rshift__", "bitwise_left_shift", "bitwise_right_shift"};
        const std::string count =
            chance(rng, 0.4) ? small
                             : emit("aten::bitwise_and(" + rhs + ", " + intConstant(7) + ")");
        return emit("aten::" + pick(rng, shifts) + "(" + lhs + ", " + count + ")");
      }
      case 7: {
        // A conversion between integer dtypes (uint8, int8, int16, int32, int64, bool).
        static const std::vector<int64_t> dtypes = {0, 1, 2, 3, 4, 11};
        return convert(lhs, pick(rng, dtypes));
      }
      default: {
        const std::string cond = condition(lhs, rhs);
        return emit("aten::where(" + cond + ", " + lhs + ", " + pick(rng, values) + ")");
      }
    }
  }

  std::string convert(const std::string& value, int64_t dtype) {
    return emit("aten::to(" + value + ", " + intConstant(dtype) + ", " + boolConstant() + ", " +
                boolConstant() + ", " + noneConstant() + ")");
  }

  std::string boolConstant() {
    const std::string name = fresh();
    body << "  " << name << " : bool = prim::Constant[value=0]()\n";
    return name;
  }
  std::string noneConstant() {
    const std::string name = fresh();
    body << "  " << name << " : NoneType = prim::Constant()\n";
    return name;
  }

  // One random fusible op whose first operand is `lhs`.
  std::string op(const std::string& lhs) {
    static const std::vector<std::string> unary = {
        "neg",  "abs",   "reciprocal", "relu",        "sigmoid", "tanh",  "exp",   "log",
        "sqrt", "rsqrt", "expm1",      "sin",         "atan",    "erf",   "floor", "frac",
        "sign", "silu",  "hardswish",  "hardsigmoid", "mish",    "trunc", "exp2"};
    static const std::vector<std::string> binary = {"mul", "div", "maximum", "minimum"};
    const std::string rhs = pick(rng, values);
    switch (uniform(rng, 0, 9)) {
      case 0:
      case 1:
        return emit("aten::" + pick(rng, unary) + "(" + lhs + ")");
      case 2:
        return emit("aten::" + pick(rng, binary) + "(" + lhs + ", " + rhs + ")");
      case 9: {
        // A conversion of an input, added to lhs: int truncates, float narrows; float16 /
        // bfloat16 round and come back to float at once (inside a kernel, 16-bit values
        // compute in float; eager would round after every op). Inputs, because their
        // values are exact: a computed value one float ulp off could round (or truncate)
        // the other way, which says nothing about either implementation.
        static const std::vector<int64_t> dtypes = {5, 15, 6, 7, 3};
        int64_t dtype = pick(rng, dtypes);
        const int input = uniform(rng, 0, static_cast<int>(inputs.size()) - 1);
        if (dtype == 3 && !int32_convertible[input]) dtype = 6;
        std::string converted = convert(inputs[input], dtype);
        if (dtype == 5 || dtype == 15) converted = convert(converted, 6);
        return emit("aten::add(" + lhs + ", " + converted + ", " + intConstant(1) + ")");
      }
      case 3: {
        const std::string alpha = chance(rng, 0.5) ? intConstant(1) : scalarOperand();
        return emit(std::string(chance(rng, 0.5) ? "aten::add(" : "aten::sub(") + lhs + ", " +
                    (chance(rng, 0.7) ? rhs : scalarOperand()) + ", " + alpha + ")");
      }
      case 4:
        return emit(std::string(chance(rng, 0.5) ? "aten::mul(" : "aten::div(") + lhs + ", " +
                    scalarOperand() + ")");
      case 5:
        return emit("aten::pow(" + lhs + ", " + scalarOperand() + ")");
      case 6: {
        const std::string lo = constant(-0.75), hi = constant(0.75);
        if (chance(rng, 0.5)) return emit("aten::clamp(" + lhs + ", " + lo + ", " + hi + ")");
        return emit(std::string(chance(rng, 0.5) ? "aten::clamp_min(" : "aten::clamp_max(") + lhs +
                    ", " + (chance(rng, 0.5) ? lo : hi) + ")");
      }
      case 7: {
        const std::string cond = condition(lhs, rhs);
        return emit("aten::where(" + cond + ", " + lhs + ", " + pick(rng, values) + ")");
      }
      default: {
        const std::string bound = scalarOperand();
        const std::string cond = condition(lhs, bound);
        const std::string other = scalarOperand();
        return emit("aten::where(" + cond + ", " + lhs + ", " + other + ")");
      }
    }
  }
};

// Random values of `dtype` and `shape`: normal for floats with a few NaN / Inf / signed
// zeros, small integers (uint8 non-negative), or a random mask. Drawn from a generator
// seeded by the case, so a replay of a seed gets the same values.
at::Tensor randomValues(Rng& rng, const std::vector<int64_t>& shape, at::ScalarType dtype) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(rng());
  at::Tensor values = at::randn(shape, generator, at::dtype(at::kDouble));
  if (values.numel() > 0 && chance(rng, 0.3)) {
    const double specials[] = {NAN, INFINITY, -INFINITY, 0.0, -0.0};
    auto flat = values.view(-1);
    flat[uniform(rng, 0, static_cast<int>(flat.numel()) - 1)] = specials[uniform(rng, 0, 4)];
  }
  if (dtype == at::kBool) return values.gt(0);
  if (at::isIntegralType(dtype, /*includeBool=*/false)) {
    values = at::nan_to_num((values * 6).trunc(), 0, 0, 0);
    if (dtype == at::kByte) values = values.abs();
  }
  return values.to(dtype);
}

// A tensor of `shape` and `dtype` with a random memory layout: contiguous, transposed,
// sliced with step 2, or expanded from size-1 dims.
at::Tensor makeInput(Rng& rng, std::vector<int64_t> shape, at::ScalarType dtype,
                     c10::Device device) {
  const int layout = shape.empty() ? 0 : uniform(rng, 0, 3);
  const auto options = at::dtype(dtype).device(device);
  if (layout == 3) {
    std::vector<int64_t> ones = shape;
    for (auto& s : ones) s = chance(rng, 0.5) ? 1 : s;
    return randomValues(rng, ones, dtype).to(device).expand(shape);
  }
  const at::Tensor values = randomValues(rng, shape, dtype).to(device);
  if (layout == 1 && shape.size() >= 2) {
    std::vector<int64_t> swapped = shape;
    std::swap(swapped.front(), swapped.back());
    return at::empty(swapped, options)
        .transpose(0, static_cast<int64_t>(shape.size()) - 1)
        .copy_(values);
  }
  if (layout == 2) {
    std::vector<int64_t> wide = shape;
    wide.back() = wide.back() * 2;
    return at::empty(wide, options).slice(-1, 0, wide.back(), 2).copy_(values);
  }
  return values;
}

}  // namespace

RandomCase makeRandomCase(uint64_t seed, c10::Device device) {
  Rng rng(seed);
  RandomCase out;
  out.seed = seed;

  const int rank = uniform(rng, 0, 3);
  std::vector<int64_t> full;
  for (int d = 0; d < rank; ++d) full.push_back(chance(rng, 0.05) ? 0 : uniform(rng, 1, 9));

  GraphBuilder g(rng);
  // Integer family: integer and bool inputs through integer ops (exact results);
  // otherwise floating point math over inputs of any dtype.
  const bool integer_family = chance(rng, 0.3);
  const int num_tensors = uniform(rng, 1, 4);
  std::vector<std::vector<int64_t>> input_shapes;
  const bool scalar_input = chance(rng, 0.3);
  std::ostringstream header;
  header << "graph(";
  for (int i = 0; i < num_tensors; ++i) {
    header << (i ? ", " : "") << "%x" << i << " : Tensor";
    g.values.push_back("%x" + std::to_string(i));
    g.inputs.push_back("%x" + std::to_string(i));
    // Broadcastable variant of `full`: drop leading dims, set some to 1.
    std::vector<int64_t> shape(full.begin() + uniform(rng, 0, rank), full.end());
    if (i == 0) shape = full;  // one input spans the whole iteration space
    for (auto& s : shape) s = (i > 0 && chance(rng, 0.25)) ? 1 : s;
    static const std::vector<at::ScalarType> integer_dtypes = {
        at::kByte, at::kChar, at::kShort, at::kInt, at::kLong, at::kLong, at::kBool};
    static const std::vector<at::ScalarType> float_firsts = {at::kFloat, at::kFloat, at::kDouble,
                                                             at::kHalf, at::kBFloat16};
    static const std::vector<at::ScalarType> any_dtypes = {at::kFloat, at::kFloat,    at::kDouble,
                                                           at::kHalf,  at::kBFloat16, at::kLong,
                                                           at::kInt,   at::kByte,     at::kBool};
    at::ScalarType dtype = integer_family ? pick(rng, integer_dtypes)
                           : i == 0       ? pick(rng, float_firsts)
                                          : pick(rng, any_dtypes);
    out.inputs.push_back(makeInput(rng, shape, dtype, device));
    const at::Tensor& made = out.inputs.back().toTensor();
    g.int32_convertible.push_back(
        !at::isFloatingType(dtype) ||
        (made.numel() == 0 ||
         made.to(at::kDouble).abs().le(std::numeric_limits<int32_t>::max()).all().item<bool>()));
    input_shapes.push_back(shape);
  }
  if (scalar_input && !integer_family) {
    header << ", %s : float";
    g.scalars.push_back("%s");
    out.inputs.push_back(static_cast<double>(uniform(rng, -8, 8)) / 4.0);
  }
  header << "):\n";

  // Views of inputs as operands (the pass moves them into the group): a leading dim, or
  // the input expanded to the full shape.
  for (size_t i = 1; i < g.inputs.size(); ++i) {
    if (!chance(rng, 0.15)) continue;
    if (chance(rng, 0.5) || full.empty()) {
      g.emit("aten::unsqueeze(" + g.inputs[i] + ", " + g.intConstant(0) + ")");
      continue;
    }
    const std::string sizes = g.fresh();
    g.body << "  " << sizes << " : int[] = prim::Constant[value=[";
    for (size_t d = 0; d < full.size(); ++d) g.body << (d ? ", " : "") << full[d];
    g.body << "]]()\n";
    g.emit("aten::expand(" + g.inputs[i] + ", " + sizes + ", " + g.boolConstant() + ")");
  }
  std::string last = "%x0";
  const int depth = uniform(rng, 2, 8);
  std::vector<std::string> results;
  for (int i = 0; i < depth; ++i) {
    last = integer_family ? g.integerOp(last) : g.op(last);
    results.push_back(last);
  }
  if (chance(rng, 0.15)) {
    // A chunk of the computed value (pushed into the kernel through the ops); sizes
    // that do not split in two make eager raise, and the fused graph must too.
    const std::string a = g.fresh(), b = g.fresh();
    g.body << "  " << a << " : Tensor, " << b
           << " : Tensor = prim::ConstantChunk[chunks=2, dim=-1](" << last << ")\n";
    last = g.emit(std::string(integer_family ? "aten::bitwise_xor(" : "aten::mul(") + a + ", " + b +
                  ")");
    results.push_back(last);
  }
  if (results.size() > 2 && chance(rng, 0.2)) {
    // A concatenation or stack of computed values (written in place by the kernel, as
    // strided slices past dim 0), sometimes with a sibling computed from another input or an
    // input itself as a piece; pieces of other shapes fall back, zero-dim ones and dims
    // out of range raise as in eager.
    std::vector<std::string> pieces = {results[results.size() / 2], last};
    const std::string& other = pick(rng, g.inputs);
    if (chance(rng, 0.3)) pieces.push_back(integer_family ? g.integerOp(other) : g.op(other));
    if (chance(rng, 0.2)) pieces.insert(pieces.begin(), other);
    const std::string list = g.fresh();
    g.body << "  " << list << " : Tensor[] = prim::ListConstruct(";
    for (size_t p = 0; p < pieces.size(); ++p) g.body << (p ? ", " : "") << pieces[p];
    g.body << ")\n";
    // A stack has one more dim to pick from (the new last one).
    const bool stack = chance(rng, 0.3);
    const int span = std::max(rank + (stack ? 1 : 0), 1);
    const int dim = chance(rng, 0.05) ? span : uniform(rng, -span, span - 1);
    last = g.emit(std::string(stack ? "aten::stack(" : "aten::cat(") + list + ", " +
                  g.intConstant(dim) + ")");
  }
  if (chance(rng, 0.12)) {
    // Autodiff's reduction of a broadcast gradient, to the shape of an input (or None):
    // the kernel computes the value, eager's at::sum_to reduces it after.
    const std::vector<int64_t>& shape = pick(rng, input_shapes);
    const std::string size = g.fresh();
    if (shape.empty() || chance(rng, 0.2)) {
      g.body << "  " << size << " : NoneType = prim::Constant()\n";
    } else {
      g.body << "  " << size << " : int[] = prim::Constant[value=[";
      for (size_t d = 0; d < shape.size(); ++d) g.body << (d ? ", " : "") << shape[d];
      g.body << "]]()\n";
    }
    last = g.emit("aten::_grad_sum_to_size(" + last + ", " + size + ")");
  }
  std::string outputs = last;
  if (results.size() > 2 && chance(rng, 0.3)) outputs = results[results.size() / 2] + ", " + last;
  if (chance(rng, 0.2)) {
    // A sibling of the chain: another op on one of its inputs, an output of its own
    // (horizontal fusion merges it into the chain's kernel where their spaces agree).
    const std::string& input = pick(rng, g.inputs);
    outputs += ", " + (integer_family ? g.integerOp(input) : g.op(input));
    out.has_sibling = true;
  }
  g.body << "  return (" << outputs << ")\n";
  out.ir = header.str() + g.body.str();
  return out;
}

std::string RandomCase::describe() const {
  std::ostringstream os;
  os << "seed " << seed << "\n" << ir << "inputs:\n";
  for (const c10::IValue& v : inputs) {
    if (v.isTensor()) {
      const at::Tensor& t = v.toTensor();
      os << "  " << t.scalar_type() << " sizes " << t.sizes() << " strides " << t.strides();
      // Small inputs in full (as stored, in memory order of their elements' indices).
      if (t.numel() <= 48) {
        os << " values";
        const at::Tensor flat = t.cpu().to(at::kDouble).reshape(-1);
        for (int64_t k = 0; k < flat.numel(); ++k) os << " " << flat[k].item<double>();
      }
      os << "\n";
    } else {
      os << "  " << v << "\n";
    }
  }
  return os.str();
}

double caseTolerance(const RandomCase& c) {
  // A conversion may pass values through float32 (or float16 / bfloat16 and back).
  if (c.ir.find("aten::to(") != std::string::npos) return 1e-4;
  for (const c10::IValue& v : c.inputs) {
    if (v.isTensor() && v.toTensor().scalar_type() != at::kDouble) return 1e-4;
  }
  return 1e-9;
}

namespace {

bool isReducedPrecision(const c10::IValue& v) {
  return v.isTensor() &&
         (v.toTensor().scalar_type() == at::kHalf || v.toTensor().scalar_type() == at::kBFloat16);
}

bool isFloatingTensor(const c10::IValue& v) {
  return v.isTensor() && at::isFloatingType(v.toTensor().scalar_type());
}

// The inputs for which `which` holds converted to `dtype`, the others as they are.
std::vector<c10::IValue> widen(const std::vector<c10::IValue>& inputs,
                               bool (*which)(const c10::IValue&), at::ScalarType dtype) {
  std::vector<c10::IValue> out;
  for (const c10::IValue& v : inputs) {
    out.push_back(which(v) ? c10::IValue(v.toTensor().to(dtype)) : v);
  }
  return out;
}

// Whether the kernel rounds the operands of `node` to a 16-bit compute dtype
// (lowering_patterns.cpp: roundedTo): comparisons, rounding, fmod, remainder and the
// dividing ops that round.
bool roundsOperands(const torch::jit::Node* node) {
  static const char* const kKinds[] = {
      "aten::eq",   "aten::ne",        "aten::lt",          "aten::le",    "aten::gt",
      "aten::ge",   "aten::ceil",      "aten::floor",       "aten::round", "aten::trunc",
      "aten::fmod", "aten::remainder", "aten::floor_divide"};
  const std::string kind = node->kind().toQualString();
  for (const char* k : kKinds) {
    if (kind == k) return true;
  }
  if (kind != "aten::div" || node->inputs().size() != 3) return false;
  const c10::optional<IValue> mode = torch::jit::toIValue(node->input(2));
  return mode && mode->isString();
}

double roundedTo16Bits(double value, at::ScalarType dtype) {
  const float f = static_cast<float>(value);
  return dtype == at::kHalf ? static_cast<float>(c10::Half(f))
                            : static_cast<float>(c10::BFloat16(f));
}

// What the kernel computes for a graph with 16-bit values (lowering.h), with eager ops:
// float32 math, except that the operands of comparisons and of rounding ops are rounded
// to the 16-bit dtype those ops compute in, as eager sees them. Neither eager (which
// rounds after every op) nor plain float32 math follows a comparison whose operands
// round to equal values in 16 bits only after float32 math (fuzz seed 1454187).
std::vector<IValue> kernelContractReference(const RandomCase& c) {
  // Eager's own run with every tensor kept: the dtypes each op sees.
  auto typed = parseIR(c.ir);
  std::vector<torch::jit::Value*> kept;
  for (torch::jit::Node* node : typed->nodes()) {
    for (torch::jit::Value* v : node->outputs()) {
      if (v->type()->cast<c10::TensorType>()) kept.push_back(v);
    }
  }
  const size_t outputs = typed->outputs().size();
  for (torch::jit::Value* v : kept) typed->registerOutput(v);
  // Only dtypes and dims are read from it. Where eager lacks a float16 CPU kernel (torch
  // 1.13), the run swaps float16 and bfloat16: type promotion treats the two alike (either
  // with float32 gives float32, both together too), so the swapped dtypes come back. Not
  // with a conversion in the graph that could name either (an int constant 5 or 15).
  std::vector<IValue> run;
  bool swapped_16_bits = false;
  auto swap16 = [](const IValue& v) {
    if (!v.isTensor()) return v;
    const at::ScalarType t = v.toTensor().scalar_type();
    if (t == at::kHalf) return IValue(v.toTensor().to(at::kBFloat16));
    if (t == at::kBFloat16) return IValue(v.toTensor().to(at::kHalf));
    return v;
  };
  try {
    run = runGraph(typed, c.inputs);
  } catch (const std::exception&) {
    if (c.ir.find("value=5]") != std::string::npos || c.ir.find("value=15]") != std::string::npos) {
      throw;
    }
    std::vector<IValue> swapped;
    for (const IValue& v : c.inputs) swapped.push_back(swap16(v));
    run = runGraph(typed, swapped);
    swapped_16_bits = true;
  }
  std::unordered_map<const torch::jit::Value*, IValue> eager;
  for (size_t i = 0; i < typed->inputs().size(); ++i) eager[typed->inputs()[i]] = c.inputs[i];
  for (size_t i = 0; i < kept.size(); ++i) {
    eager[kept[i]] = swapped_16_bits ? swap16(run[outputs + i]) : run[outputs + i];
  }
  auto eagerValue = [&](torch::jit::Value* v) -> c10::optional<IValue> {
    const auto found = eager.find(v);
    if (found != eager.end()) return found->second;
    return torch::jit::toIValue(v);
  };

  auto graph = parseIR(c.ir);
  std::vector<std::pair<torch::jit::Node*, torch::jit::Node*>> pairs;  // (float32, eager)
  auto typed_node = typed->nodes().begin();
  for (torch::jit::Node* node : graph->nodes()) pairs.emplace_back(node, *typed_node++);
  for (const auto& pair : pairs) {
    torch::jit::Node* node = pair.first;
    if (!roundsOperands(pair.second)) continue;
    const c10::optional<IValue> a = eagerValue(pair.second->input(0));
    c10::optional<IValue> b;
    if (pair.second->inputs().size() >= 2) b = eagerValue(pair.second->input(1));
    if (!a || !a->isTensor()) continue;
    at::ScalarType dtype = a->toTensor().scalar_type();
    if (b && b->isTensor()) {
      dtype = at::result_type(a->toTensor(), b->toTensor());
    } else if (b && b->isScalar()) {
      dtype = at::result_type(a->toTensor(), b->toScalar());
    }
    if (dtype != at::kHalf && dtype != at::kBFloat16) continue;
    torch::jit::WithInsertPoint guard(node);
    const size_t operands = std::min<size_t>(2, node->inputs().size());
    for (size_t i = 0; i < operands; ++i) {
      torch::jit::Value* in = node->input(i);
      const c10::optional<IValue> value = eagerValue(pair.second->input(i));
      if (in->type()->cast<c10::TensorType>()) {
        torch::jit::Value* narrow =
            graph->insert(c10::Symbol::aten("to"), {in, static_cast<int64_t>(dtype)});
        node->replaceInput(
            i, graph->insert(c10::Symbol::aten("to"), {narrow, static_cast<int64_t>(at::kFloat)}));
      } else if (value && value->isDouble()) {
        node->replaceInput(i, graph->insertConstant(roundedTo16Bits(value->toDouble(), dtype)));
      }
    }
  }
  return runGraph(graph, widen(c.inputs, isReducedPrecision, at::kFloat));
}

// Per element of `fused` (all three in float64): within `rtol` of `reference`, NaN
// matching NaN.
at::Tensor closeTo(const at::Tensor& fused, const at::Tensor& reference, double rtol) {
  const double atol = rtol * 1e-1;
  return fused.eq(reference)
      .logical_or(fused.isnan().logical_and(reference.isnan()))
      .logical_or((fused - reference).abs().le(atol + rtol * reference.abs()));
}

// Per element: `fused` about as close to `exact` (float64 math) as `reference` is: within
// twice its distance, plus `rtol`. Eager's and the kernel's math functions may differ by
// an ulp (glibc and Sleef, say), either may be the closer one, and an ill-conditioned graph
// (cancellation, a trunc after erf, frac of 1 / sigmoid(-9)) magnifies both alike: a
// difference that says nothing about the fusion (fuzz seed 1409709).
at::Tensor noFurtherFromExact(const at::Tensor& fused, const at::Tensor& reference,
                              const at::Tensor& exact, double rtol) {
  return fused.eq(reference)
      .logical_or(fused.isnan().logical_and(reference.isnan()))
      .logical_or(
          (fused - exact).abs().le((reference - exact).abs() * 2 + rtol * (1 + exact.abs())));
}

// Two units in the last place of the output dtype, or the case's float tolerance.
double outputTolerance(const RandomCase& c, at::ScalarType dtype) {
  if (dtype == at::kHalf) return 2e-3;
  if (dtype == at::kBFloat16) return 1.6e-2;
  return caseTolerance(c);
}

// A call that fell back ran eager's ops, rounding 16-bit intermediates after each; the
// fallback may split the work differently (pushed chunks run per piece), and one float
// ulp of a math function before such a rounding moves the value a 16-bit ulp. Wider
// outputs computed from them get the 16-bit tolerance.
double fallbackTolerance(const RandomCase& c, at::ScalarType dtype) {
  double tolerance = outputTolerance(c, dtype);
  for (const c10::IValue& v : c.inputs) {
    if (isReducedPrecision(v)) {
      tolerance = std::max(tolerance, outputTolerance(c, v.toTensor().scalar_type()));
    }
  }
  return tolerance;
}

}  // namespace

std::string compareOutputs(const at::Tensor& fused, const at::Tensor& eager, double rtol) {
  std::ostringstream os;
  if (fused.scalar_type() != eager.scalar_type()) {
    os << "dtype " << fused.scalar_type() << " vs eager " << eager.scalar_type();
    return os.str();
  }
  if (fused.sizes() != eager.sizes()) {
    os << "sizes " << fused.sizes() << " vs eager " << eager.sizes();
    return os.str();
  }
  if (fused.numel() == 0) return "";
  const at::Tensor a = fused.cpu().to(at::kDouble), e = eager.cpu().to(at::kDouble);
  if (!at::isFloatingType(fused.scalar_type())) rtol = 0.0;  // integers and bools: exact
  const at::Tensor ok = closeTo(a, e, rtol);
  if (ok.all().item<bool>()) return "";
  const int64_t index = ok.logical_not().reshape(-1).nonzero()[0].item<int64_t>();
  os.precision(17);
  os << "element " << index << ": fused " << a.reshape(-1)[index].item<double>() << " vs eager "
     << e.reshape(-1)[index].item<double>();
  return os.str();
}

std::string runRandomCase(const RandomCase& c, bool& ran_kernel) {
  auto reference = parseIR(c.ir);
  auto fused = reference->copy();
  fuseGraph(fused);
  if (std::getenv("FUSER_FUZZ_PRINT"))
    std::cout << "fused graph of seed " << c.seed << ":\n" << *fused;
  // One group, plus one where a chunked value is also read whole (by a concatenation):
  // only a value nothing else reads is chunked inside the kernel computing it, so the
  // pieces are read by a second one; plus one for a sibling not merged (see has_sibling).
  const size_t groups = countGroups(*fused);
  const bool chunked = c.ir.find("prim::ConstantChunk") != std::string::npos;
  const size_t most = 1 + (chunked ? 1 : 0) + (c.has_sibling ? 1 : 0);
  if (groups < 1 || groups > most) {
    return "expected 1 to " + std::to_string(most) + " fusion groups, got " +
           std::to_string(groups);
  }

  std::vector<IValue> expected;
  std::string eager_error;
  try {
    expected = runGraph(reference, c.inputs);
  } catch (const std::exception& e) {
    eager_error = e.what();
  }
  // With float16 / bfloat16 inputs the values to match are float32 math rounded once at
  // the end; eager (which may also lack a 16-bit kernel on CPU) still gives the dtypes.
  const bool reduced = std::any_of(c.inputs.begin(), c.inputs.end(), isReducedPrecision);
  std::vector<IValue> values = expected;
  std::string values_error = eager_error;
  if (reduced) {
    values_error.clear();
    try {
      // float16 / bfloat16 inputs widened to float32: what the kernel computes from them
      // (see lowering.h), without eager's rounding after every op.
      values = runGraph(parseIR(c.ir), widen(c.inputs, isReducedPrecision, at::kFloat));
    } catch (const std::exception& e) {
      values_error = e.what();
    }
  }
  std::vector<IValue> actual;
  const int64_t fallbacks = threadFallbacks();
  try {
    actual = runGraph(fused, c.inputs);
    ran_kernel = threadFallbacks() == fallbacks;
  } catch (const std::exception& e) {
    if (!values_error.empty() || !eager_error.empty()) return "";  // both raise
    return std::string("fused raised but eager did not: ") + e.what();
  }
  // A call that fell back ran eager's own ops (16-bit rounding after each): compare it
  // with eager itself.
  if (reduced && !ran_kernel && eager_error.empty()) {
    values = expected;
    values_error.clear();
  }
  if (!values_error.empty()) {
    // Eager on CPU lacks some 16-bit kernels; the kernel computes them in float.
    if (values_error.find("not implemented for 'Half'") != std::string::npos ||
        values_error.find("not implemented for 'BFloat16'") != std::string::npos) {
      return "";
    }
    return "eager raised but fused did not: " + values_error;
  }
  if (actual.size() != values.size()) return "output count differs";
  std::vector<IValue> exact;  // float64 math, computed for a mismatch only
  bool exact_tried = false;
  std::vector<IValue> contract;  // the kernel's own rules, for a 16-bit mismatch only
  bool contract_tried = false;
  for (size_t i = 0; i < actual.size(); ++i) {
    const at::Tensor& out = actual[i].toTensor();
    if (eager_error.empty() && out.scalar_type() != expected[i].toTensor().scalar_type()) {
      return "output " + std::to_string(i) + ": dtype " + c10::toString(out.scalar_type()) +
             " vs eager " + c10::toString(expected[i].toTensor().scalar_type());
    }
    const at::Tensor want = values[i].toTensor().to(out.scalar_type());
    const double tolerance = ran_kernel ? outputTolerance(c, out.scalar_type())
                                        : fallbackTolerance(c, out.scalar_type());
    const std::string diff = compareOutputs(out, want, tolerance);
    if (diff.empty()) continue;
    if (!at::isFloatingType(out.scalar_type()) || out.sizes() != want.sizes()) {
      return "output " + std::to_string(i) + ": " + diff;
    }
    if (!exact_tried) {
      exact_tried = true;
      try {
        // The graph's math in float64, nearly exact (explicit conversions still round).
        exact = runGraph(parseIR(c.ir), widen(c.inputs, isFloatingTensor, at::kDouble));
      } catch (const std::exception&) {
        exact.clear();
      }
    }
    // Element by element, any reference the kernel may follow: the float32 math (`want`),
    // no further from float64 than it; with 16-bit inputs also eager itself, which rounds
    // after every op (a comparison or trunc of a value one 16-bit ulp from the edge goes
    // either way), or no further from float64 than eager.
    const at::Tensor got = out.cpu().to(at::kDouble), ref = want.cpu().to(at::kDouble);
    at::Tensor ok = closeTo(got, ref, tolerance);
    const bool have_exact =
        exact.size() == actual.size() && exact[i].toTensor().sizes() == out.sizes();
    const at::Tensor x = have_exact ? exact[i].toTensor().cpu().to(at::kDouble) : at::Tensor();
    if (have_exact) ok = ok.logical_or(noFurtherFromExact(got, ref, x, tolerance));
    at::Tensor e;
    if (reduced && eager_error.empty() && expected[i].toTensor().sizes() == out.sizes()) {
      e = expected[i].toTensor().cpu().to(at::kDouble);
      ok = ok.logical_or(closeTo(got, e, tolerance));
      if (have_exact) ok = ok.logical_or(noFurtherFromExact(got, e, x, tolerance));
    }
    if (reduced && !ok.all().item<bool>()) {
      if (!contract_tried) {
        contract_tried = true;
        try {
          contract = kernelContractReference(c);
        } catch (const std::exception& e) {
          if (std::getenv("FUSER_FUZZ_PRINT")) {
            std::cout << "the 16-bit contract reference raised: " << e.what() << "\n";
          }
          contract.clear();
        }
      }
      if (contract.size() == actual.size() && contract[i].toTensor().sizes() == out.sizes()) {
        const at::Tensor k = contract[i].toTensor().to(out.scalar_type()).cpu().to(at::kDouble);
        ok = ok.logical_or(closeTo(got, k, tolerance));
        if (have_exact) ok = ok.logical_or(noFurtherFromExact(got, k, x, tolerance));
      }
    }
    // Where eager, float32 and float64 math all disagree (sin of a huge value: one ulp
    // anywhere upstream moves it anywhere), no value is wrong; a NaN none of them has is.
    if (e.defined() && have_exact) {
      const at::Tensor undetermined = closeTo(e, ref, tolerance)
                                          .logical_or(closeTo(e, x, tolerance))
                                          .logical_or(closeTo(ref, x, tolerance))
                                          .logical_not();
      const at::Tensor nan_allowed = e.isnan().logical_or(ref.isnan()).logical_or(x.isnan());
      ok = ok.logical_or(
          undetermined.logical_and(got.isnan().logical_not().logical_or(nan_allowed)));
    }
    if (ok.all().item<bool>()) continue;
    const int64_t index = ok.logical_not().reshape(-1).nonzero()[0].item<int64_t>();
    auto at_index = [index](const at::Tensor& t) { return t.reshape(-1)[index].item<double>(); };
    std::ostringstream os;
    os.precision(17);
    os << "output " << i << ": element " << index << ": fused " << at_index(got);
    os << (reduced ? " vs float32 math " : " vs eager ") << at_index(ref);
    if (e.defined()) os << ", eager " << at_index(e);
    if (have_exact) os << ", float64 math " << at_index(x);
    return os.str();
  }
  return "";
}

}  // namespace testing
}  // namespace torch_fuser
