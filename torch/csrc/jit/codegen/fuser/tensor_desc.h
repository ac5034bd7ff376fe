// What a compiled kernel assumes about one of its inputs: never sizes, only what
// changes the generated code.
#pragma once

#include <c10/core/ScalarType.h>

#include <cstdint>

namespace torch_fuser {

// How a kernel reads a tensor.
enum class TensorLayout : uint8_t {
  kFlat,     // contiguous with exactly the iteration shape: element i is data[i]
  kScalar,   // one element broadcast everywhere: data[0], loaded once
  kStrided,  // anything else: offsets from per-dimension (broadcast) strides
};

// For kStrided tensors: the stride along the innermost iteration dimension, which decides
// whether a row can be read with unit-stride (vector) loads or is one broadcast value.
enum class InnerStride : uint8_t {
  kAny,   // anything else
  kUnit,  // 1: each row is contiguous
  kZero,  // 0: one value per row (broadcast along the row)
};

struct TensorDesc {
  c10::ScalarType dtype;
  uint8_t rank;  // the tensor's own rank; 0 marks a zero-dim tensor for type promotion
  TensorLayout layout;
  InnerStride inner = InnerStride::kAny;  // meaningful for kStrided only

  bool operator==(const TensorDesc& o) const {
    return dtype == o.dtype && rank == o.rank && layout == o.layout && inner == o.inner;
  }
};

// How the kernel writes one output: kFlat (element i at data[i]), or kStrided — a slice of
// a concatenation or stack, addressed through strides, with rows contiguous (kUnit) or
// interleaved with the other pieces' (kAny: a stack along the last dim).
struct OutputLayout {
  TensorLayout layout = TensorLayout::kFlat;
  InnerStride inner = InnerStride::kUnit;  // meaningful for kStrided only

  bool operator==(const OutputLayout& o) const { return layout == o.layout && inner == o.inner; }
};

// How a non-tensor input (a Python number) reaches the kernel.
enum class ScalarKind : uint8_t { kDouble, kInt, kBool };

}  // namespace torch_fuser
