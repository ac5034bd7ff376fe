// TensorView: what a launch reads of a strided tensor (data, dtype, sizes, strides),
// without an at::Tensor. The executor cuts chunk pieces and reorders iteration dims on
// views: at::narrow / permute each cost a dispatcher call and a TensorImpl, and an LSTM
// cell's fused call cuts 16 pieces per step (measured: more than the kernel itself).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/ArrayRef.h>
#include <c10/util/SmallVector.h>

#include <algorithm>
#include <cstdint>

namespace torch_fuser {

struct TensorView {
  char* data = nullptr;
  c10::ScalarType dtype = c10::ScalarType::Undefined;
  int64_t item_size = 0;
  c10::SmallVector<int64_t, 6> sizes;
  c10::SmallVector<int64_t, 6> strides;

  static TensorView of(const at::Tensor& t) {
    TensorView v;
    v.data = static_cast<char*>(const_cast<void*>(t.data_ptr()));
    v.dtype = t.scalar_type();
    v.item_size = static_cast<int64_t>(t.element_size());
    v.sizes.assign(t.sizes().begin(), t.sizes().end());
    v.strides.assign(t.strides().begin(), t.strides().end());
    return v;
  }

  int64_t dim() const { return static_cast<int64_t>(sizes.size()); }
  c10::IntArrayRef shape() const { return sizes; }

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t s : sizes) n *= s;
    return n;
  }

  // As at::Tensor::is_contiguous(): size-1 dims may have any stride.
  bool isContiguous() const {
    if (numel() == 0) return true;
    int64_t expected = 1;
    for (size_t d = sizes.size(); d-- > 0;) {
      if (sizes[d] == 1) continue;
      if (strides[d] != expected) return false;
      expected *= sizes[d];
    }
    return true;
  }

  // As at::Tensor::is_non_overlapping_and_dense(): some permutation of it is contiguous.
  bool isNonOverlappingAndDense() const {
    if (numel() == 0) return true;
    c10::SmallVector<size_t, 6> order(sizes.size());
    for (size_t d = 0; d < order.size(); ++d) order[d] = d;
    std::sort(order.begin(), order.end(), [this](size_t a, size_t b) {
      if (sizes[a] < 2) return false;  // size-0/1 dims last: any stride is fine for them
      if (sizes[b] < 2) return true;
      return strides[a] < strides[b];
    });
    int64_t expected = 1;
    for (size_t d : order) {
      if (sizes[d] < 2) return true;  // the rest are size 0/1 too
      if (strides[d] != expected) return false;
      expected *= sizes[d];
    }
    return true;
  }

  // Elements [start, start + length) along `dim` (wrapped), as at::narrow.
  void narrow(int64_t dim, int64_t start, int64_t length) {
    data += start * strides[dim] * item_size;
    sizes[dim] = length;
  }

  // Leading size-1 dims up to `rank` (broadcasting aligns shapes on the right).
  void alignTo(size_t rank) {
    if (sizes.size() >= rank) return;
    const size_t missing = rank - sizes.size();
    sizes.insert(sizes.begin(), missing, 1);
    strides.insert(strides.begin(), missing, 0);
  }

  // Dim d of the result is dim order[d] of this view, as at::permute.
  void permute(c10::ArrayRef<int64_t> order) {
    c10::SmallVector<int64_t, 6> new_sizes(order.size()), new_strides(order.size());
    for (size_t d = 0; d < order.size(); ++d) {
      new_sizes[d] = sizes[order[d]];
      new_strides[d] = strides[order[d]];
    }
    sizes = std::move(new_sizes);
    strides = std::move(new_strides);
  }
};

}  // namespace torch_fuser
