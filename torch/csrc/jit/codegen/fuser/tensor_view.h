// TensorView: what a launch reads of a strided tensor (data, dtype, sizes, strides),
// without an at::Tensor. The executor cuts chunk pieces and reorders iteration dims on
// views: at::narrow / permute each cost a dispatcher call and a TensorImpl, and an LSTM
// cell's fused call cuts 16 pieces per step (measured: more than the kernel itself).
#pragma once

#include "torch/csrc/jit/codegen/fuser/view_step.h"

#include <ATen/core/Tensor.h>
#include <c10/util/ArrayRef.h>
#include <c10/util/SmallVector.h>

#include <algorithm>
#include <cstdint>
#include <string>

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

  // Applies a view op as ATen does; returns why it cannot (eager raises), or "".
  std::string apply(const ViewStep& step) {
    const int64_t rank = dim();
    auto wrap = [](int64_t d, int64_t n, int64_t& out) {
      const int64_t bound = std::max<int64_t>(n, 1);  // zero-dim tensors take dims -1 and 0
      if (d < -bound || d >= bound) return false;
      out = d < 0 ? d + bound : d;
      return true;
    };
    int64_t a = 0, b = 0;
    switch (step.kind) {
      case ViewStep::Kind::kUnsqueeze:
        if (!wrap(step.args[0], rank + 1, a)) return "unsqueeze: dim out of range";
        sizes.insert(sizes.begin() + a, 1);
        strides.insert(strides.begin() + a, a < rank ? sizes[a + 1] * strides[a] : 1);
        return {};
      case ViewStep::Kind::kSqueeze:
        if (!wrap(step.args[0], rank, a)) return "squeeze: dim out of range";
        if (rank > 0 && sizes[a] == 1) {
          sizes.erase(sizes.begin() + a);
          strides.erase(strides.begin() + a);
        }
        return {};
      case ViewStep::Kind::kT:
        if (rank > 2) return "t() of a tensor of more than 2 dims";
        if (rank == 2) transpose(0, 1);
        return {};
      case ViewStep::Kind::kTranspose:
        if (!wrap(step.args[0], rank, a) || !wrap(step.args[1], rank, b))
          return "transpose: dim out of range";
        if (rank > 0) transpose(a, b);
        return {};
      case ViewStep::Kind::kPermute: {
        if (static_cast<int64_t>(step.args.size()) != rank) return "permute: wrong number of dims";
        c10::SmallVector<int64_t, 6> order(step.args.size());
        c10::SmallVector<bool, 6> seen(step.args.size(), false);
        for (size_t d = 0; d < order.size(); ++d) {
          if (!wrap(step.args[d], rank, order[d]) || seen[order[d]])
            return "permute: not a permutation";
          seen[order[d]] = true;
        }
        permute(order);
        return {};
      }
      case ViewStep::Kind::kExpand:
        return expand(step.args);
      case ViewStep::Kind::kView:
        return view(step.args);
    }
    return "unknown view";
  }

  void transpose(int64_t a, int64_t b) {
    std::swap(sizes[a], sizes[b]);
    std::swap(strides[a], strides[b]);
  }

  // As at::expand: size-1 dims (and new leading ones) broadcast with stride 0.
  std::string expand(c10::ArrayRef<int64_t> target) {
    const size_t rank = sizes.size();
    if (target.size() < rank) return "expand: fewer sizes than dims";
    const size_t lead = target.size() - rank;
    c10::SmallVector<int64_t, 6> new_sizes(target.size()), new_strides(target.size());
    for (size_t d = 0; d < target.size(); ++d) {
      if (d < lead) {
        if (target[d] < 0) return "expand: -1 for a new dim";
        new_sizes[d] = target[d];
        new_strides[d] = 0;
        continue;
      }
      const int64_t size = sizes[d - lead];
      if (target[d] == -1 || target[d] == size) {
        new_sizes[d] = size;
        new_strides[d] = strides[d - lead];
      } else if (size == 1 && target[d] >= 0) {
        new_sizes[d] = target[d];
        new_strides[d] = 0;
      } else {
        return "expand: a size differs from a non-singleton dim";
      }
    }
    sizes = std::move(new_sizes);
    strides = std::move(new_strides);
    return {};
  }

  // As at::view (and at::reshape where it need not copy): `target` sizes, one of them
  // possibly -1, over the same elements in the same order.
  std::string view(c10::ArrayRef<int64_t> target) {
    c10::SmallVector<int64_t, 6> shape(target.begin(), target.end());
    int64_t known = 1;
    int64_t inferred = -1;
    for (size_t d = 0; d < shape.size(); ++d) {
      if (shape[d] == -1 && inferred < 0) {
        inferred = static_cast<int64_t>(d);
      } else if (shape[d] < 0) {
        return "view: a negative size, or more than one -1";
      } else {
        known *= shape[d];
      }
    }
    const int64_t elements = numel();
    if (inferred >= 0) {
      if (known == 0 || elements % known != 0) return "view: the sizes do not fit the elements";
      shape[inferred] = elements / known;
    } else if (known != elements) {
      return "view: the sizes do not fit the elements";
    }
    c10::SmallVector<int64_t, 6> new_strides(shape.size());
    if (!viewStrides(shape, new_strides)) {
      return "view: the input's strides do not allow it without a copy";
    }
    sizes = std::move(shape);
    strides = std::move(new_strides);
    return {};
  }

  // Strides that step through this view's elements in order with sizes `shape` (same
  // numel), when they exist. Dims of size > 1 whose memory steps join up (stride[d] ==
  // stride[d + 1] * size[d + 1]) form blocks; each block must be covered exactly by
  // consecutive dims of `shape`, which step through it from its innermost stride. Dims of
  // size 1 may take any stride.
  bool viewStrides(c10::ArrayRef<int64_t> shape, c10::SmallVectorImpl<int64_t>& out) const {
    int64_t t = static_cast<int64_t>(shape.size()) - 1;
    if (numel() == 0) {  // nothing to step through: any view of the sizes is one
      for (int64_t step = 1; t >= 0; --t) {
        out[t] = step;
        step *= std::max<int64_t>(shape[t], 1);
      }
      return true;
    }
    int64_t step = 1;  // the next stride to hand out in the current block
    for (int64_t d = dim() - 1; d >= 0;) {
      if (sizes[d] == 1) {
        --d;
        continue;
      }
      // The block ending at d.
      const int64_t inner = strides[d];
      int64_t block = sizes[d];
      int64_t first = d;
      for (int64_t k = d - 1; k >= 0; --k) {
        if (sizes[k] == 1) continue;
        if (strides[k] != strides[first] * sizes[first]) break;
        block *= sizes[k];
        first = k;
      }
      int64_t covered = 1;
      while (t >= 0 && covered < block) {
        out[t] = covered * inner;
        covered *= shape[t];
        --t;
      }
      if (covered != block) return false;
      step = block * inner;
      d = first - 1;
    }
    for (; t >= 0; --t) {  // what is left must be size-1 dims
      if (shape[t] != 1) return false;
      out[t] = step;
    }
    return true;
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
