#include "torch/csrc/jit/codegen/fuser/codegen.h"

#include <c10/util/Exception.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

namespace torch_fuser {
namespace {

std::string valueName(int id) {
  return "v" + std::to_string(id);
}

// Replaces $0, $1, $2 in an op spelling by operand names, $M by the math policy, $T by
// the result type and its random bits.
std::string substitute(const char* spelling, const std::vector<std::string>& operands,
                       const char* math, const std::string& type) {
  std::string out;
  for (const char* p = spelling; *p; ++p) {
    if (*p == '$' && p[1] == 'M') {
      out += math;
      ++p;
    } else if (*p == '$' && p[1] == 'T') {
      out += type;
      ++p;
    } else if (*p == '$' && p[1] >= '0' && p[1] <= '9') {
      const size_t index = static_cast<size_t>(p[1] - '0');
      TORCH_INTERNAL_ASSERT(index < operands.size(), "op spelling '", spelling, "' names operand ",
                            index, " of ", operands.size());
      out += operands[index];
      ++p;
    } else {
      out += *p;
    }
  }
  return out;
}

}  // namespace

std::string KernelPrinter::print(const LoweredKernel& kernel) const {
  std::ostringstream os;
  printPreamble(os);
  printKernel(os, kernel);
  return os.str();
}

std::string KernelPrinter::typeName(c10::ScalarType dtype) const {
  switch (dtype) {
    case c10::ScalarType::Float:
      return "float";
    case c10::ScalarType::Double:
      return "double";
    case c10::ScalarType::Half:
      return "tf_half";
    case c10::ScalarType::BFloat16:
      return "tf_bfloat16";
    case c10::ScalarType::Bool:
      return "bool";
    case c10::ScalarType::Byte:
      return "uint8_t";
    case c10::ScalarType::Char:
      return "int8_t";
    case c10::ScalarType::Short:
      return "int16_t";
    case c10::ScalarType::Int:
      return "int32_t";
    case c10::ScalarType::Long:
      return "int64_t";
    default:
      TORCH_INTERNAL_ASSERT(false, "no spelling in generated code for dtype ",
                            c10::toString(dtype));
  }
}

std::string KernelPrinter::literal(const c10::Scalar& value, c10::ScalarType dtype) const {
  if (dtype == c10::ScalarType::Bool) return value.toBool() ? "true" : "false";
  if (dtype == c10::ScalarType::Long) {
    const int64_t v = value.toLong();
    if (v == std::numeric_limits<int64_t>::min()) return "(-INT64_C(9223372036854775807) - 1)";
    return "INT64_C(" + std::to_string(v) + ")";
  }
  TORCH_INTERNAL_ASSERT(dtype == c10::ScalarType::Double, "literals are Bool, Long or Double");
  const double v = value.toDouble();
  if (std::isnan(v)) return "tf_nan()";
  if (std::isinf(v)) return v > 0 ? "tf_infinity()" : "(-tf_infinity())";
  char buffer[64];
  // %a is exact: the literal is bit-identical to the value in the graph.
  std::snprintf(buffer, sizeof(buffer), "%a", v);
  return buffer;
}

std::string KernelPrinter::expression(const Stmt& stmt, const LoadOf& load_of) const {
  switch (stmt.kind) {
    case StmtKind::kLoadTensor:
      return load_of(stmt.input);
    case StmtKind::kLoadScalar:
      return scalarSource(stmt.dtype == c10::ScalarType::Double) + std::to_string(stmt.input) + "]";
    case StmtKind::kLiteral:
      return literal(stmt.literal, stmt.dtype);
    case StmtKind::kCast:
      return "tf_cast<" + typeName(stmt.dtype) + ">(" + valueName(stmt.args[0]) + ")";
    case StmtKind::kOp: {
      std::vector<std::string> operands;
      for (int arg : stmt.args) operands.push_back(valueName(arg));
      const std::string type = typeName(stmt.dtype) + ", " + std::to_string(stmt.random_bits);
      return substitute(opSpelling(stmt.op), operands, stmt.fast_math ? "TfFastMath" : "TfMath",
                        type);
    }
  }
  TORCH_INTERNAL_ASSERT(false, "unhandled statement kind");
}

void KernelPrinter::printStatements(std::ostream& os, const LoweredKernel& kernel, bool invariant,
                                    const LoadOf& load_of, int indent) const {
  const std::string pad(indent, ' ');
  for (size_t id = 0; id < kernel.stmts.size(); ++id) {
    const Stmt& stmt = kernel.stmts[id];
    if (stmt.invariant != invariant) continue;
    os << pad << "const " << typeName(stmt.dtype) << " " << valueName(static_cast<int>(id)) << " = "
       << expression(stmt, load_of) << ";\n";
  }
}

void KernelPrinter::printStores(std::ostream& os, const LoweredKernel& kernel,
                                const IndexOf& index_of, int indent) const {
  const std::string pad(indent, ' ');
  const size_t first_output = kernel.inputs.size();
  for (size_t o = 0; o < kernel.outputs.size(); ++o) {
    const int t = static_cast<int>(first_output + o);
    os << pad << "t" << t << "[" << index_of(t) << "] = " << valueName(kernel.outputs[o]) << ";\n";
  }
}

bool KernelPrinter::isStrided(const LoweredKernel& kernel, int tensor) {
  const size_t t = static_cast<size_t>(tensor);
  if (t < kernel.inputs.size()) return kernel.inputs[t].layout == TensorLayout::kStrided;
  return kernel.output_layouts.at(t - kernel.inputs.size()).layout == TensorLayout::kStrided;
}

bool KernelPrinter::hasStridedTensor(const LoweredKernel& kernel) {
  const int tensors = static_cast<int>(kernel.inputs.size() + kernel.outputs.size());
  for (int t = 0; t < tensors; ++t) {
    if (isStrided(kernel, t)) return true;
  }
  return false;
}

std::vector<std::string> KernelPrinter::tensorParameters(const LoweredKernel& kernel,
                                                         const std::string& qualifier) const {
  std::vector<std::string> out;
  for (const TensorDesc& input : kernel.inputs) {
    out.push_back("const " + typeName(input.dtype) + "* " + qualifier + " t" +
                  std::to_string(out.size()));
  }
  for (c10::ScalarType dtype : kernel.output_dtypes) {
    out.push_back(typeName(dtype) + "* " + qualifier + " t" + std::to_string(out.size()));
  }
  return out;
}

std::vector<std::string> KernelPrinter::tensorArguments(const LoweredKernel& kernel) const {
  std::vector<std::string> out;
  for (const TensorDesc& input : kernel.inputs) {
    out.push_back("static_cast<const " + typeName(input.dtype) + "*>(args->data[" +
                  std::to_string(out.size()) + "])");
  }
  for (c10::ScalarType dtype : kernel.output_dtypes) {
    out.push_back("static_cast<" + typeName(dtype) + "*>(args->data[" + std::to_string(out.size()) +
                  "])");
  }
  return out;
}

}  // namespace torch_fuser
