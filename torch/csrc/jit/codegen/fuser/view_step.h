// ViewStep: one view op (unsqueeze, squeeze, transpose, t, permute, expand, view) a fusion
// applies to one of its inputs before the kernel reads it. The pass moves such views of
// group inputs into the group (input_views.h); the executor applies them to the input's
// TensorView per call, so the kernel reads the input itself with the view's strides.
#pragma once

#include <c10/util/SmallVector.h>

#include <cstdint>

namespace torch_fuser {

struct ViewStep {
  enum class Kind : uint8_t {
    kUnsqueeze,  // args: dim
    kSqueeze,    // args: dim (a dim of size other than 1 stays, as in eager)
    kTranspose,  // args: dim0, dim1
    kT,          // no args: transpose of a tensor of rank <= 2
    kPermute,    // args: the order
    kExpand,     // args: the sizes (-1 keeps a size)
    kView,       // args: the sizes (one may be -1): view / reshape without a copy
  };
  Kind kind;
  c10::SmallVector<int64_t, 4> args;

  bool operator==(const ViewStep& o) const { return kind == o.kind && args == o.args; }
};

}  // namespace torch_fuser
