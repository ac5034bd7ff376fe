#include "torch/csrc/jit/codegen/fuser/cpu/codegen_cpu.h"

#include "torch/csrc/jit/codegen/fuser/codegen.h"
#include "torch/csrc/jit/codegen/fuser/resources/embedded.h"

#include <c10/util/Exception.h>

#include <vector>

namespace torch_fuser {
namespace cpu {
namespace {

class CPUKernelPrinter : public KernelPrinter {
 protected:
  void printPreamble(std::ostream& os) const override {
    os << resources::kernel_abi << "\n"
       << resources::math_functions << "\n"
       << resources::cpu_float_math << "\n"
       << resources::cpu_preamble << "\n"
       << resources::common_preamble << "\n";
  }

  void printKernel(std::ostream& os, const LoweredKernel& kernel) const override {
    // The body takes its tensors as __restrict__ parameters: compilers honour restrict on
    // parameters (not on locals), which is what lets the loops vectorize without
    // run-time alias checks.
    os << "static void tf_compute(const TfKernelArgs* args, int64_t begin, int64_t end";
    for (const std::string& param : tensorParameters(kernel, "__restrict__"))
      os << ",\n    " << param;
    os << ") {\n";
    printStatements(
        os, kernel, /*invariant=*/true, [](int t) { return element(t, "0"); }, 2);
    if (hasStridedTensor(kernel)) {
      printStridedLoop(os, kernel);
    } else {
      printFlatLoop(os, kernel);
    }
    os << "}\n\n";
    os << "extern \"C\" void " << kKernelSymbol
       << "(const TfKernelArgs* args, int64_t begin, int64_t end) {\n"
       << "  tf_compute(args, begin, end";
    for (const std::string& arg : tensorArguments(kernel)) os << ",\n      " << arg;
    os << ");\n}\n";
  }

 private:
  // Every tensor is contiguous with the iteration shape: one flat loop.
  void printFlatLoop(std::ostream& os, const LoweredKernel& kernel) const {
    os << "  for (int64_t i = begin; i < end; ++i) {\n";
    printStatements(
        os, kernel, false, [](int t) { return element(t, "i"); }, 4);
    printStores(os, kernel, "i", 4);
    os << "  }\n";
  }

  // The index of tensor t's element j of the current row.
  static std::string rowIndex(const LoweredKernel& kernel, int t) {
    if (!isStrided(kernel, t)) return "base + j";
    const std::string name = std::to_string(t);
    const size_t inputs = kernel.inputs.size();
    const InnerStride inner = static_cast<size_t>(t) < inputs
                                  ? kernel.inputs[t].inner
                                  : kernel.output_layouts[t - inputs].inner;
    switch (inner) {
      case InnerStride::kZero:
        return "o" + name;  // loop-invariant: hoisted, broadcast
      case InnerStride::kUnit:
        return "o" + name + " + j";
      case InnerStride::kAny:
        break;
    }
    return "o" + name + " + j * s" + name;
  }

  // Some tensor is strided or broadcast: walk the iteration space row by row (a row is
  // the innermost dimension). Each strided tensor keeps one offset, updated incrementally
  // between rows; inside a row every access is base + j * stride, a loop the compiler
  // vectorizes (with a version for unit stride).
  void printStridedLoop(std::ostream& os, const LoweredKernel& kernel) const {
    TORCH_INTERNAL_ASSERT(kernel.rank > 0, "a strided input needs a non-zero iteration rank");
    std::vector<int> strided;
    const int tensors = static_cast<int>(kernel.inputs.size() + kernel.outputs.size());
    for (int t = 0; t < tensors; ++t) {
      if (isStrided(kernel, t)) strided.push_back(t);
    }
    // Offsets in 32 bits where every offset of the call fits (ArgSpec::index32): strided
    // reads vectorize as gathers with twice the lanes.
    os << "  typedef " << (kernel.index32 ? "int32_t" : "int64_t") << " tf_index;\n"
       << "  constexpr int kRank = " << kernel.rank << ";\n"
       << "  const int64_t* sizes = args->sizes;\n"
       << "  const int64_t row = sizes[kRank - 1];\n"
       << "  int64_t index[kRank];\n";
    for (int t : strided) {
      os << "  const int64_t* st" << t << " = args->strides + " << t << " * kRank;\n"
         << "  const tf_index s" << t << " = static_cast<tf_index>(st" << t << "[kRank - 1]);\n"
         << "  tf_index o" << t << " = 0;\n";
    }
    os << "  {\n    int64_t rest = begin;\n"
       << "    for (int d = kRank - 1; d >= 0; --d) {\n"
       << "      index[d] = rest % sizes[d];\n"
       << "      rest /= sizes[d];\n";
    for (int t : strided) os << "      o" << t << " += index[d] * st" << t << "[d];\n";
    os << "    }\n  }\n";
    os << "  for (int64_t base = begin; base < end;) {\n"
       << "    const tf_index n = static_cast<tf_index>(row - index[kRank - 1] < end - base ? "
          "row - index[kRank - 1] : end - base);\n"
       << "    for (tf_index j = 0; j < n; ++j) {\n";
    const IndexOf row_index = [&kernel](int t) { return rowIndex(kernel, t); };
    printStatements(
        os, kernel, false, [&row_index](int t) { return element(t, row_index(t)); }, 6);
    printStores(os, kernel, row_index, 6);
    os << "    }\n    base += n;\n    index[kRank - 1] += n;\n";
    for (int t : strided) os << "    o" << t << " += n * s" << t << ";\n";
    os << "    if (index[kRank - 1] < row) continue;\n    index[kRank - 1] = 0;\n";
    for (int t : strided) os << "    o" << t << " -= row * s" << t << ";\n";
    os << "    for (int d = kRank - 2; d >= 0; --d) {\n";
    for (int t : strided) os << "      o" << t << " += st" << t << "[d];\n";
    os << "      if (++index[d] < sizes[d]) break;\n";
    for (int t : strided) os << "      o" << t << " -= st" << t << "[d] * sizes[d];\n";
    os << "      index[d] = 0;\n    }\n  }\n";
  }
};

}  // namespace

std::string generateSource(const LoweredKernel& kernel) {
  return CPUKernelPrinter().print(kernel);
}

}  // namespace cpu
}  // namespace torch_fuser
