#include "test/cpp/jit/random_graphs.h"

#include "test/cpp/jit/test_utils.h"

#include <algorithm>
#include <sstream>

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
  std::vector<std::string> values;   // tensor values usable as operands
  std::vector<std::string> inputs;   // the graph's tensor inputs
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

  // One random fusible op whose first operand is `lhs`.
  std::string op(const std::string& lhs) {
    static const std::vector<std::string> unary = {"neg",  "abs", "reciprocal", "relu", "sigmoid",
                                                   "tanh", "exp", "log",        "sqrt", "rsqrt"};
    static const std::vector<std::string> binary = {"mul", "div", "maximum", "minimum"};
    const std::string rhs = pick(rng, values);
    switch (uniform(rng, 0, 8)) {
      case 0:
      case 1:
        return emit("aten::" + pick(rng, unary) + "(" + lhs + ")");
      case 2:
        return emit("aten::" + pick(rng, binary) + "(" + lhs + ", " + rhs + ")");
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

// A tensor of `shape` with a random memory layout and a few special values.
at::Tensor makeInput(Rng& rng, std::vector<int64_t> shape, at::ScalarType dtype,
                     c10::Device device) {
  at::Tensor t;
  const int layout = shape.empty() ? 0 : uniform(rng, 0, 3);
  if (layout == 1 && shape.size() >= 2) {  // transposed
    std::vector<int64_t> swapped = shape;
    std::swap(swapped.front(), swapped.back());
    t = at::randn(swapped, at::dtype(at::kDouble))
            .transpose(0, static_cast<int64_t>(shape.size()) - 1);
  } else if (layout == 2) {  // sliced with step 2 along the last dim
    std::vector<int64_t> wide = shape;
    wide.back() = wide.back() * 2;
    t = at::randn(wide, at::dtype(at::kDouble)).slice(-1, 0, wide.back(), 2);
  } else if (layout == 3) {  // expanded from size-1 dims
    std::vector<int64_t> ones = shape;
    for (auto& s : ones) s = chance(rng, 0.5) ? 1 : s;
    t = at::randn(ones, at::dtype(at::kDouble)).expand(shape);
  } else {
    t = at::randn(shape, at::dtype(at::kDouble));
  }
  at::Tensor values = t.contiguous();
  if (values.numel() > 0 && chance(rng, 0.3)) {
    const double specials[] = {NAN, INFINITY, -INFINITY, 0.0, -0.0};
    auto flat = values.view(-1);
    flat[uniform(rng, 0, static_cast<int>(flat.numel()) - 1)] = specials[uniform(rng, 0, 4)];
  }
  t = (layout == 3) ? t : t.copy_(values);
  if (dtype == at::kBool)
    t = t.gt(0);
  else if (dtype == at::kLong)
    t = (t * 4).floor();
  at::Tensor converted = t.to(dtype);
  // .to() may densify; keep the strided view when the dtype already matches.
  if (dtype == at::kDouble) converted = t;
  return converted.to(device);
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
  const int num_tensors = uniform(rng, 1, 4);
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
    const at::ScalarType dtype = pick(
        rng,
        std::vector<at::ScalarType>{at::kFloat, at::kFloat, at::kDouble, at::kLong, at::kBool});
    out.inputs.push_back(makeInput(rng, shape, i == 0 ? at::kFloat : dtype, device));
  }
  if (scalar_input) {
    header << ", %s : float";
    g.scalars.push_back("%s");
    out.inputs.push_back(static_cast<double>(uniform(rng, -8, 8)) / 4.0);
  }
  header << "):\n";

  std::string last = "%x0";
  const int depth = uniform(rng, 2, 8);
  std::vector<std::string> results;
  for (int i = 0; i < depth; ++i) {
    last = g.op(last);
    results.push_back(last);
  }
  std::string outputs = last;
  if (results.size() > 2 && chance(rng, 0.3)) outputs = results[results.size() / 2] + ", " + last;
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
      os << "  " << t.scalar_type() << " sizes " << t.sizes() << " strides " << t.strides() << "\n";
    } else {
      os << "  " << v << "\n";
    }
  }
  return os.str();
}

double caseTolerance(const RandomCase& c) {
  for (const c10::IValue& v : c.inputs) {
    if (v.isTensor() && v.toTensor().scalar_type() != at::kDouble) return 1e-4;
  }
  return 1e-9;
}

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
  const bool is_float = at::isFloatingType(fused.scalar_type());
  const double atol = is_float ? rtol * 1e-1 : 0.0;
  const at::Tensor ok = a.eq(e)
                            .logical_or(a.isnan().logical_and(e.isnan()))
                            .logical_or((a - e).abs().le(atol + rtol * e.abs()));
  if (ok.all().item<bool>()) return "";
  const int64_t index = ok.logical_not().view(-1).nonzero()[0].item<int64_t>();
  os.precision(17);
  os << "element " << index << ": fused " << a.reshape(-1)[index].item<double>() << " vs eager "
     << e.reshape(-1)[index].item<double>();
  return os.str();
}

std::string runRandomCase(const RandomCase& c, bool& ran_kernel) {
  auto reference = parseIR(c.ir);
  auto fused = reference->copy();
  fuseGraph(fused);
  if (countGroups(*fused) != 1)
    return "expected one fusion group, got " + std::to_string(countGroups(*fused));

  std::vector<IValue> expected;
  std::string eager_error;
  try {
    expected = runGraph(reference, c.inputs);
  } catch (const std::exception& e) {
    eager_error = e.what();
  }
  std::vector<IValue> actual;
  const int64_t fallbacks = getStats().fallbacks;
  try {
    actual = runGraph(fused, c.inputs);
    ran_kernel = getStats().fallbacks == fallbacks;
  } catch (const std::exception& e) {
    if (!eager_error.empty()) return "";  // both raise
    return std::string("fused raised but eager did not: ") + e.what();
  }
  if (!eager_error.empty()) return "eager raised but fused did not: " + eager_error;
  if (actual.size() != expected.size()) return "output count differs";
  for (size_t i = 0; i < actual.size(); ++i) {
    const std::string diff =
        compareOutputs(actual[i].toTensor(), expected[i].toTensor(), caseTolerance(c));
    if (!diff.empty()) return "output " + std::to_string(i) + ": " + diff;
  }
  return "";
}

}  // namespace testing
}  // namespace torch_fuser
