// ArgSpec: the run-time key of a compiled kernel inside its KernelSpec.
//
// It holds what the generated code depends on — device, iteration rank, every input's
// dtype / rank / layout, every scalar's kind, how each output is written (whole, or as a
// strided slice of a concatenation), the default float dtype (it types Python floats) —
// and nothing that varies with sizes, so a new batch size reuses the kernel.
#pragma once

#include "torch/csrc/jit/codegen/fuser/tensor_desc.h"

#include <c10/core/Device.h>
#include <c10/util/SmallVector.h>

#include <cstddef>

namespace torch_fuser {

class ArgSpec {
 public:
  // index32: every offset fits 32-bit index math (GPU kernels are specialized on it).
  ArgSpec(c10::Device device, int iteration_rank, c10::ScalarType default_dtype,
          bool index32 = false);

  void addTensor(TensorDesc desc);
  void addScalar(ScalarKind kind);
  // kFlat: a fresh contiguous tensor of the iteration shape; kStrided: a slice of a
  // concatenation or stack (see OutputLayout).
  void addOutput(OutputLayout layout);

  c10::Device device() const { return device_; }
  int iterationRank() const { return iteration_rank_; }
  c10::ScalarType defaultDtype() const { return default_dtype_; }
  bool index32() const { return index32_; }
  const c10::SmallVectorImpl<TensorDesc>& tensors() const { return tensors_; }
  const c10::SmallVectorImpl<ScalarKind>& scalars() const { return scalars_; }
  // Empty when the caller gave none: every output then is kFlat.
  const c10::SmallVectorImpl<OutputLayout>& outputs() const { return outputs_; }

  size_t hash() const { return hash_; }
  bool operator==(const ArgSpec& other) const;

 private:
  void mix(size_t value);

  c10::Device device_;
  int iteration_rank_;
  c10::ScalarType default_dtype_;
  bool index32_;
  c10::SmallVector<TensorDesc, 24> tensors_;  // an LSTM cell reads 17 (chunk pieces)
  c10::SmallVector<ScalarKind, 4> scalars_;
  c10::SmallVector<OutputLayout, 4> outputs_;
  size_t hash_;
};

struct ArgSpecHash {
  size_t operator()(const ArgSpec& spec) const { return spec.hash(); }
};

}  // namespace torch_fuser
