// Codegen: a LoweredKernel -> kernel source text.
//
// KernelPrinter owns what every flavour shares — one typed `const` temporary per
// statement, named by its position (v0, v1, …), tensors t0…tN, literals spelled exactly —
// so equal graphs give byte-identical source (the source is also a cache key). A device
// flavour (cpu/, cuda/) supplies the hooks: type spelling, preamble, kernel signature and
// loops. Nothing device-specific lives here.
#pragma once

#include "torch/csrc/jit/codegen/fuser/lowering.h"

#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace torch_fuser {

class KernelPrinter {
 public:
  virtual ~KernelPrinter() = default;
  std::string print(const LoweredKernel& kernel) const;

 protected:
  // How generated code spells a dtype. Every flavour's preamble provides the same names
  // (fixed-width integers, tf_half, tf_bfloat16), so one spelling serves all.
  std::string typeName(c10::ScalarType dtype) const;
  // Everything printed before the kernel: the ABI header, math helpers.
  virtual void printPreamble(std::ostream& os) const = 0;
  virtual void printKernel(std::ostream& os, const LoweredKernel& kernel) const = 0;

  // How the loop body reads tensor input `t` (e.g. "t0[i]", "tf_lane(in0, k)").
  using LoadOf = std::function<std::string(int tensor)>;
  // The common case: `t<k>[<index>]`.
  static std::string element(int tensor, const std::string& index) {
    return "t" + std::to_string(tensor) + "[" + index + "]";
  }

  // Prints the statements whose invariance equals `invariant` (so a flavour can hoist
  // loop-invariant ones), one per line at `indent` spaces.
  void printStatements(std::ostream& os, const LoweredKernel& kernel, bool invariant,
                       const LoadOf& load_of, int indent) const;
  // Prints `t<k>[<index_of(k)>] = v<j>;` for every output tensor k.
  using IndexOf = std::function<std::string(int tensor)>;
  void printStores(std::ostream& os, const LoweredKernel& kernel, const IndexOf& index_of,
                   int indent) const;
  // Every output at `index` (all flat).
  void printStores(std::ostream& os, const LoweredKernel& kernel, const std::string& index,
                   int indent) const {
    printStores(
        os, kernel, [&index](int) { return index; }, indent);
  }
  // Whether any input or output is addressed through strides.
  static bool hasStridedTensor(const LoweredKernel& kernel);
  // Tensor index (inputs then outputs) -> whether it is strided.
  static bool isStrided(const LoweredKernel& kernel, int tensor);
  // One typed pointer per tensor (inputs const, then outputs), as parameter declarations
  // `const float* <qualifier> t0` and as the matching casts of `args->data[k]`.
  std::vector<std::string> tensorParameters(const LoweredKernel& kernel,
                                            const std::string& qualifier) const;
  std::vector<std::string> tensorArguments(const LoweredKernel& kernel) const;

  std::string literal(const c10::Scalar& value, c10::ScalarType dtype) const;
  // Where scalar inputs are read from: "<array>[" for floating or integer scalars.
  virtual std::string scalarSource(bool floating) const {
    return floating ? "args->fscalars[" : "args->iscalars[";
  }

 private:
  std::string expression(const Stmt& stmt, const LoadOf& load_of) const;
};

}  // namespace torch_fuser
