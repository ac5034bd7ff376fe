#include "torch/csrc/jit/codegen/fuser/cuda/codegen_cuda.h"

#include "torch/csrc/jit/codegen/fuser/codegen.h"
#include "torch/csrc/jit/codegen/fuser/resources/embedded.h"

#include <c10/core/ScalarType.h>
#include <c10/util/Exception.h>

#include <algorithm>

namespace torch_fuser {
namespace cuda {
namespace {

class CUDAKernelPrinter : public KernelPrinter {
 protected:
  void printPreamble(std::ostream& os) const override {
    os << resources::math_functions << "\n"
       << resources::cuda_preamble << "\n"
       << resources::common_preamble << "\n";
  }

  void printKernel(std::ostream& os, const LoweredKernel& kernel) const override {
    const CudaParamLayout layout = cudaParamLayout(kernel);
    printParams(os, layout);
    os << "extern \"C\" __global__ void __launch_bounds__(" << kBlockSize << ") " << kernel.name
       << "(const TfParams p) {\n"
       << "  typedef " << (kernel.index32 ? "int32_t" : "int64_t") << " tf_index;\n";
    const std::vector<std::string> params = tensorParameters(kernel, "__restrict__");
    for (size_t t = 0; t < params.size(); ++t) {
      const bool input = t < kernel.inputs.size();
      const std::string type =
          typeName(input ? kernel.inputs[t].dtype : kernel.output_dtypes[t - kernel.inputs.size()]);
      os << "  " << params[t] << " = static_cast<" << (input ? "const " : "") << type
         << "*>(p.data[" << t << "]);\n";
    }
    os << "  const tf_index numel = static_cast<tf_index>(p.numel);\n"
       << "  const tf_index step = static_cast<tf_index>(blockDim.x) * gridDim.x;\n"
       << "  const tf_index first = static_cast<tf_index>(blockIdx.x) * blockDim.x + "
          "threadIdx.x;\n";
    if (layout.has_rng) {
      os << "  const bool captured = p.rng[3] != 0;\n"
         << "  const uint64_t tf_seed = captured ? *reinterpret_cast<const uint64_t*>(p.rng[0]) : "
            "p.rng[0];\n"
         << "  const uint64_t tf_offset =\n"
         << "      captured ? *reinterpret_cast<const uint64_t*>(p.rng[1]) + p.rng[2] : "
            "p.rng[1];\n";
    }
    printStatements(
        os, kernel, /*invariant=*/true, [](int t) { return element(t, "0"); }, 2);
    if (hasStridedTensor(kernel)) {
      if (layout.has_vec_ok) printStridedVectorLoop(os, kernel, layout);
      printStridedLoop(os, kernel, layout);
    } else {
      if (layout.vector_width > 1) printVectorLoop(os, kernel, layout);
      printFlatLoop(os, kernel, "first");
    }
    os << "}\n";
  }

 private:
  static void printParams(std::ostream& os, const CudaParamLayout& layout) {
    os << "struct TfParams {\n  int64_t numel;\n";
    if (layout.has_vec_ok) os << "  int64_t vec_ok;\n";
    if (layout.has_rng) os << "  uint64_t rng[4];\n";
    os << "  void* data[" << layout.tensors << "];\n";
    if (layout.rank > 0) os << "  int64_t sizes[" << layout.rank << "];\n";
    if (layout.rank > 0 && !layout.strided.empty()) {
      os << "  int64_t strides[" << layout.strided.size() << "][" << layout.rank << "];\n";
    }
    if (layout.fscalars > 0) os << "  double fscalars[" << layout.fscalars << "];\n";
    if (layout.iscalars > 0) os << "  int64_t iscalars[" << layout.iscalars << "];\n";
    os << "};\n\n";
  }

  // Scalars live in the parameter block rather than behind an args pointer.
  std::string scalarSource(bool floating) const override {
    return floating ? "p.fscalars[" : "p.iscalars[";
  }

  // Random statements read the element's linear index as tf_linear.
  static void printLinearIndex(std::ostream& os, const LoweredKernel& kernel,
                               const std::string& index, int indent) {
    if (kernel.uses_random) {
      os << std::string(indent, ' ') << "const uint64_t tf_linear = " << index << ";\n";
    }
  }

  // Grid-stride loop, one element per iteration, from `start`.
  void printFlatLoop(std::ostream& os, const LoweredKernel& kernel,
                     const std::string& start) const {
    os << "  for (tf_index i = " << start << "; i < numel; i += step) {\n";
    printLinearIndex(os, kernel, "i", 4);
    printStatements(
        os, kernel, false, [](int t) { return element(t, "i"); }, 4);
    printStores(os, kernel, "i", 4);
    os << "  }\n";
  }

  // Every tensor contiguous: when all pointers are 16-byte aligned, each thread moves
  // vector_width elements per tensor with one 128-bit (or narrower) access; the
  // remainder goes to the scalar loop that follows.
  void printVectorLoop(std::ostream& os, const LoweredKernel& kernel,
                       const CudaParamLayout& layout) const {
    const int width = layout.vector_width;
    os << "  constexpr int kVec = " << width << ";\n"
       << "  const uintptr_t addresses = 0";
    for (int t = 0; t < layout.tensors; ++t) os << " | reinterpret_cast<uintptr_t>(t" << t << ")";
    os << ";\n  if (addresses % 16 == 0) {\n"
       << "    const tf_index vectors = numel / kVec;\n"
       << "    for (tf_index v = first; v < vectors; v += step) {\n"
       << "      const tf_index base = v * kVec;\n";
    for (size_t t = 0; t < kernel.inputs.size(); ++t) {
      if (kernel.inputs[t].layout != TensorLayout::kFlat) continue;
      const std::string type = typeName(kernel.inputs[t].dtype);
      os << "      const TfVec<" << type << ", kVec> in" << t << " = *reinterpret_cast<const TfVec<"
         << type << ", kVec>*>(t" << t << " + base);\n";
    }
    // Flat inputs read from the loaded vectors (scalar-layout inputs were hoisted).
    printVectorBody(
        os, kernel, [](int t) { return laneOf(t); }, [](int) { return std::string("base"); });
    os << "    }\n"
       << "    for (tf_index i = vectors * kVec + first; i < numel; i += step) {\n";
    printLinearIndex(os, kernel, "i", 6);
    printStatements(
        os, kernel, false, [](int t) { return element(t, "i"); }, 6);
    printStores(os, kernel, "i", 6);
    os << "    }\n    return;\n  }\n";
  }

  // Element k of input t's loaded vector (tf_lane: bytes need care, cuda_preamble.h).
  static std::string laneOf(int t) { return "tf_lane(in" + std::to_string(t) + ", k)"; }

  // Offsets of every strided tensor at linear index `index`, from its multi-index.
  static void printOffsets(std::ostream& os, const CudaParamLayout& layout,
                           const std::string& index, int indent) {
    const std::string pad(indent, ' ');
    os << pad << "tf_index rest = " << index << ";\n";
    for (int t : layout.strided) os << pad << "tf_index o" << t << " = 0;\n";
    os << "#pragma unroll\n"
       << pad << "for (int d = " << layout.rank - 1 << "; d >= 0; --d) {\n"
       << pad << "  const tf_index size = static_cast<tf_index>(p.sizes[d]);\n"
       << pad << "  const tf_index position = rest % size;\n"
       << pad << "  rest /= size;\n";
    for (size_t s = 0; s < layout.strided.size(); ++s) {
      os << pad << "  o" << layout.strided[s] << " += position * static_cast<tf_index>(p.strides["
         << s << "][d]);\n";
    }
    os << pad << "}\n";
  }

  // Strided inputs with unit or zero inner stride, rows a multiple of kVec, everything
  // aligned (vec_ok, checked by the host): each thread handles kVec elements of one row —
  // one multi-index computation, vector loads of contiguous rows, one load of a
  // broadcast row value.
  void printStridedVectorLoop(std::ostream& os, const LoweredKernel& kernel,
                              const CudaParamLayout& layout) const {
    os << "  constexpr int kVec = " << layout.vector_width << ";\n"
       << "  if (p.vec_ok) {\n"
       << "    const tf_index vectors = numel / kVec;\n"
       << "    for (tf_index v = first; v < vectors; v += step) {\n"
       << "      const tf_index base = v * kVec;\n";
    printOffsets(os, layout, "base", 6);
    for (size_t t = 0; t < kernel.inputs.size(); ++t) {
      const TensorDesc& input = kernel.inputs[t];
      const std::string type = typeName(input.dtype);
      const std::string vec = "TfVec<" + type + ", kVec>";
      if (input.layout == TensorLayout::kFlat) {
        os << "      const " << vec << " in" << t << " = *reinterpret_cast<const " << vec << "*>(t"
           << t << " + base);\n";
      } else if (input.layout == TensorLayout::kStrided && input.inner == InnerStride::kUnit) {
        os << "      const " << vec << " in" << t << " = *reinterpret_cast<const " << vec << "*>(t"
           << t << " + o" << t << ");\n";
      } else if (input.layout == TensorLayout::kStrided) {
        os << "      const " << type << " row" << t << " = t" << t << "[o" << t << "];\n";
      }
    }
    printVectorBody(
        os, kernel,
        [&kernel](int t) {
          const TensorDesc& input = kernel.inputs[t];
          if (input.layout == TensorLayout::kStrided && input.inner == InnerStride::kZero) {
            return "row" + std::to_string(t);
          }
          return laneOf(t);
        },
        [&kernel](int t) { return isStrided(kernel, t) ? "o" + std::to_string(t) : "base"; });
    os << "    }\n    return;\n  }\n";
  }

  // Declares the output vectors, computes kVec elements, stores each output's vector at
  // store_at(tensor).
  void printVectorBody(std::ostream& os, const LoweredKernel& kernel, const LoadOf& load_of,
                       const IndexOf& store_at) const {
    for (size_t o = 0; o < kernel.output_dtypes.size(); ++o) {
      os << "      TfVec<" << typeName(kernel.output_dtypes[o]) << ", kVec> out" << o << ";\n";
    }
    os << "#pragma unroll\n      for (int k = 0; k < kVec; ++k) {\n";
    printLinearIndex(os, kernel, "base + k", 8);
    printStatements(os, kernel, false, load_of, 8);
    for (size_t o = 0; o < kernel.outputs.size(); ++o) {
      os << "        out" << o << ".val[k] = v" << kernel.outputs[o] << ";\n";
    }
    os << "      }\n";
    const size_t first_output = kernel.inputs.size();
    for (size_t o = 0; o < kernel.output_dtypes.size(); ++o) {
      const std::string type = typeName(kernel.output_dtypes[o]);
      const int t = static_cast<int>(first_output + o);
      os << "      *reinterpret_cast<TfVec<" << type << ", kVec>*>(t" << t << " + " << store_at(t)
         << ") = out" << o << ";\n";
    }
  }

  // Broadcast or strided tensors: each element's offsets come from its multi-index.
  void printStridedLoop(std::ostream& os, const LoweredKernel& kernel,
                        const CudaParamLayout& layout) const {
    os << "  for (tf_index i = first; i < numel; i += step) {\n";
    printOffsets(os, layout, "i", 4);
    printLinearIndex(os, kernel, "i", 4);
    const IndexOf index_of = [&kernel](int t) {
      return isStrided(kernel, t) ? "o" + std::to_string(t) : std::string("i");
    };
    printStatements(
        os, kernel, false, [&index_of](int t) { return element(t, index_of(t)); }, 4);
    printStores(os, kernel, index_of, 4);
    os << "  }\n";
  }
};

}  // namespace

CudaParamLayout cudaParamLayout(const LoweredKernel& kernel) {
  CudaParamLayout layout;
  layout.tensors = static_cast<int>(kernel.inputs.size() + kernel.output_dtypes.size());
  size_t widest = 1;  // over the tensors accessed as vectors
  bool vectorizable = true;
  for (size_t t = 0; t < kernel.inputs.size(); ++t) {
    const TensorDesc& input = kernel.inputs[t];
    layout.element_sizes.push_back(static_cast<int>(c10::elementSize(input.dtype)));
    if (input.layout == TensorLayout::kStrided) {
      layout.strided.push_back(static_cast<int>(t));
      vectorizable = vectorizable && input.inner != InnerStride::kAny;
      if (input.inner == InnerStride::kUnit) layout.unit_strided.push_back(static_cast<int>(t));
    }
    const bool vector_access =
        input.layout == TensorLayout::kFlat ||
        (input.layout == TensorLayout::kStrided && input.inner == InnerStride::kUnit);
    if (vector_access) widest = std::max(widest, c10::elementSize(input.dtype));
  }
  for (size_t o = 0; o < kernel.output_dtypes.size(); ++o) {
    const c10::ScalarType dtype = kernel.output_dtypes[o];
    layout.element_sizes.push_back(static_cast<int>(c10::elementSize(dtype)));
    widest = std::max(widest, c10::elementSize(dtype));
    const OutputLayout& out = kernel.output_layouts[o];
    if (out.layout == TensorLayout::kStrided) {
      // A slice of a concatenation (rows contiguous: vector stores of whole rows) or of a
      // stack along the last dim (interleaved: element by element).
      const int t = static_cast<int>(kernel.inputs.size() + o);
      layout.strided.push_back(t);
      if (out.inner == InnerStride::kUnit) {
        layout.unit_strided.push_back(t);
      } else {
        vectorizable = false;
      }
    }
  }
  layout.rank = layout.strided.empty() ? 0 : kernel.rank;
  for (ScalarKind kind : kernel.scalars) {
    (kind == ScalarKind::kDouble ? layout.fscalars : layout.iscalars)++;
  }
  layout.vector_width = vectorizable ? static_cast<int>(16 / widest) : 1;
  layout.has_vec_ok = !layout.strided.empty() && layout.vector_width > 1;
  layout.has_rng = kernel.uses_random;
  return layout;
}

std::string generateSource(const LoweredKernel& kernel) {
  return CUDAKernelPrinter().print(kernel);
}

}  // namespace cuda
}  // namespace torch_fuser
