// TensorView (the executor's tensor-free views) against ATen's own views: the same
// contiguity and density answers, and narrow / permute / leading dims giving the data
// pointer, sizes and strides ATen's narrow / permute / unsqueeze give, over random
// strided tensors.
#include "torch/csrc/jit/codegen/fuser/tensor_view.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <numeric>
#include <random>

namespace torch_fuser {
namespace testing {
namespace {

// A random tensor of rank 0..4: contiguous, permuted, sliced with a step, expanded, or
// narrowed, so strides cover every case the executor meets.
at::Tensor randomStrided(std::mt19937& rng) {
  auto uniform = [&rng](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  std::vector<int64_t> shape(static_cast<size_t>(uniform(0, 4)));
  for (int64_t& s : shape) s = uniform(0, 4) == 0 ? uniform(0, 1) : uniform(2, 5);
  at::Tensor t = at::zeros(shape);
  if (t.dim() == 0) return t;
  switch (uniform(0, 4)) {
    case 0: {
      std::vector<int64_t> order(shape.size());
      std::iota(order.begin(), order.end(), 0);
      std::shuffle(order.begin(), order.end(), rng);
      return t.permute(order);
    }
    case 1: {
      const int64_t dim = uniform(0, t.dim() - 1);
      return t.size(dim) > 1 ? t.slice(dim, 0, t.size(dim), 2) : t;
    }
    case 2: {
      const int64_t dim = uniform(0, t.dim() - 1);
      if (t.size(dim) == 0) return t;
      std::vector<int64_t> expanded = shape;
      expanded[dim] = uniform(2, 3);
      return t.narrow(dim, 0, 1).expand(expanded);
    }
    case 3:
      return t.contiguous(at::MemoryFormat::Contiguous).transpose(0, t.dim() - 1);
    default:
      return t;
  }
}

void expectSameView(const TensorView& view, const at::Tensor& t, const std::string& what) {
  EXPECT_EQ(view.data, static_cast<char*>(t.data_ptr())) << what;
  EXPECT_EQ(c10::IntArrayRef(view.sizes), t.sizes()) << what;
  // Strides of size-1 dims mean nothing (ATen's unsqueeze picks one, the view 0).
  for (int64_t d = 0; d < t.dim(); ++d) {
    if (t.size(d) == 1) continue;
    EXPECT_EQ(view.strides[d], t.stride(d)) << what << " dim " << d;
  }
}

TEST(CPUFusion, TensorViewsMatchATenViews) {
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    const at::Tensor t = randomStrided(rng);
    const std::string what = "sizes " + c10::str(t.sizes()) + " strides " + c10::str(t.strides());
    const TensorView view = TensorView::of(t);
    expectSameView(view, t, what);
    EXPECT_EQ(view.numel(), t.numel()) << what;
    EXPECT_EQ(view.isContiguous(), t.is_contiguous()) << what;
    EXPECT_EQ(view.isNonOverlappingAndDense(), t.is_non_overlapping_and_dense()) << what;
    if (t.dim() == 0) continue;

    const int64_t dim = std::uniform_int_distribution<int64_t>(0, t.dim() - 1)(rng);
    const int64_t start = std::uniform_int_distribution<int64_t>(0, t.size(dim))(rng);
    const int64_t length = std::uniform_int_distribution<int64_t>(0, t.size(dim) - start)(rng);
    TensorView piece = view;
    piece.narrow(dim, start, length);
    const at::Tensor narrowed = t.narrow(dim, start, length);
    if (narrowed.numel() > 0) expectSameView(piece, narrowed, what + " narrowed");
    EXPECT_EQ(piece.isContiguous(), narrowed.is_contiguous()) << what << " narrowed";

    TensorView aligned = view;
    aligned.alignTo(static_cast<size_t>(t.dim() + 2));
    expectSameView(aligned, t.unsqueeze(0).unsqueeze(0), what + " aligned");

    std::vector<int64_t> order(static_cast<size_t>(t.dim()));
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    TensorView permuted = view;
    permuted.permute(order);
    const at::Tensor reordered = t.permute(order);
    expectSameView(permuted, reordered, what + " permuted");
    EXPECT_EQ(permuted.isContiguous(), reordered.is_contiguous()) << what << " permuted";
  }
}

// A target shape for a view of `t`: flattened, dims merged or split, size-1 dims added.
std::vector<int64_t> randomViewShape(const at::Tensor& t, std::mt19937& rng) {
  auto uniform = [&rng](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  std::vector<int64_t> shape(t.sizes().begin(), t.sizes().end());
  switch (uniform(0, 3)) {
    case 0:
      return {-1};
    case 1:  // merge two neighbours
      if (shape.size() >= 2) {
        const size_t d = static_cast<size_t>(uniform(0, static_cast<int>(shape.size()) - 2));
        shape[d] *= shape[d + 1];
        shape.erase(shape.begin() + static_cast<std::ptrdiff_t>(d) + 1);
      }
      return shape;
    case 2:  // split a dim whose size is even, one side -1
      for (size_t d = 0; d < shape.size(); ++d) {
        if (shape[d] % 2 == 0 && shape[d] > 0) {
          shape[d] /= 2;
          shape.insert(shape.begin() + static_cast<std::ptrdiff_t>(d), -1);
          break;
        }
      }
      return shape;
    default:
      shape.insert(shape.begin() + uniform(0, static_cast<int>(shape.size())), 1);
      return shape;
  }
}

TEST(CPUFusion, TensorViewReshapesLikeATenViewOrRefuses) {
  std::mt19937 rng(11);
  int viewed = 0, refused = 0;
  for (int i = 0; i < 3000; ++i) {
    const at::Tensor t = randomStrided(rng);
    const std::vector<int64_t> target = randomViewShape(t, rng);
    const std::string what = "sizes " + c10::str(t.sizes()) + " strides " + c10::str(t.strides()) +
                             " view " + c10::str(target);
    TensorView view = TensorView::of(t);
    const std::string why = view.view(target);
    at::Tensor expected;
    try {
      expected = t.view(target);
    } catch (const c10::Error&) {
      EXPECT_FALSE(why.empty()) << what << ": ATen refuses, the view did not";
      ++refused;
      continue;
    }
    ASSERT_TRUE(why.empty()) << what << ": " << why;
    if (expected.numel() == 0) {  // strides of an empty view mean nothing
      EXPECT_EQ(c10::IntArrayRef(view.sizes), expected.sizes()) << what;
    } else {
      expectSameView(view, expected, what);
    }
    ++viewed;
  }
  // Both outcomes are exercised.
  EXPECT_GT(viewed, 1000);
  EXPECT_GT(refused, 50);
}

}  // namespace
}  // namespace testing
}  // namespace torch_fuser
