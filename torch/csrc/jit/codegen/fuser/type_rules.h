// Eager PyTorch's type promotion, decided once per kernel at lowering time.
//
// Semantics (as torch.result_type): operands fall in three priority groups —
// dimensioned tensors > zero-dim tensors > Python numbers ("wrapped scalars"). Within a
// group dtypes promote normally. A lower group only matters when its category (bool <
// integral < floating) is higher than every higher group's: then its dtype joins the
// promotion (a Python float against an int tensor gives the default float dtype; a
// Python float against a float16 tensor stays float16).
// A Python number promotes as Long (int), Bool (bool) or the default dtype (float).
#pragma once

#include <c10/core/ScalarType.h>
#include <c10/util/ArrayRef.h>

#include <cstdint>

namespace torch_fuser {

enum class OperandCategory : uint8_t { kWrappedScalar = 0, kZeroDim = 1, kDimensioned = 2 };

struct PromotionOperand {
  c10::ScalarType dtype;  // for wrapped scalars: the dtype it promotes as (see above)
  OperandCategory category;
};

c10::ScalarType promoteOperands(c10::ArrayRef<PromotionOperand> operands);

// The dtype a Python number of dtype `held` (Double, Long or Bool) promotes as.
c10::ScalarType wrappedScalarPromotionType(c10::ScalarType held, c10::ScalarType default_dtype);

}  // namespace torch_fuser
