// The argument block every generated kernel receives. This header is compiled into
// libtorch_fuser AND embedded verbatim at the top of each generated kernel, so both
// sides agree on the layout by construction. Plain C types only.
#pragma once
#include <stdint.h>

struct TfKernelArgs {
  // One pointer per tensor: the fusion's tensor inputs in order, then its outputs.
  void* const* data;
  // strides[t * rank + d]: element stride of tensor t (inputs, then outputs) along
  // iteration dimension d, already broadcast (0 where the tensor is broadcast along d).
  // Outputs are strided only as slices of a concatenation.
  const int64_t* strides;
  // The iteration shape (the broadcast shape of the inputs), `rank` entries.
  const int64_t* sizes;
  // Scalar inputs, split by kind: floating ones, and integer/bool ones.
  const double* fscalars;
  const int64_t* iscalars;
};
