#include "torch/csrc/jit/codegen/fuser/type_rules.h"

#include <c10/util/Exception.h>

namespace torch_fuser {
namespace {

using c10::ScalarType;

ScalarType promoteSkippingUndefined(ScalarType a, ScalarType b) {
  if (a == ScalarType::Undefined) return b;
  if (b == ScalarType::Undefined) return a;
  return c10::promoteTypes(a, b);
}

// Joins the result of a higher-priority group with that of a lower one.
ScalarType combineGroups(ScalarType higher, ScalarType lower) {
  if (c10::isComplexType(higher)) return higher;
  if (c10::isComplexType(lower)) {
    return c10::isFloatingType(higher) ? c10::toComplexType(higher) : lower;
  }
  if (c10::isFloatingType(higher)) return higher;
  if (higher == ScalarType::Bool || c10::isFloatingType(lower)) {
    return promoteSkippingUndefined(higher, lower);
  }
  return higher != ScalarType::Undefined ? higher : lower;
}

}  // namespace

ScalarType promoteOperands(c10::ArrayRef<PromotionOperand> operands) {
  ScalarType by_group[3] = {ScalarType::Undefined, ScalarType::Undefined, ScalarType::Undefined};
  for (const PromotionOperand& operand : operands) {
    ScalarType& group = by_group[static_cast<int>(operand.category)];
    group = promoteSkippingUndefined(group, operand.dtype);
  }
  const ScalarType result = combineGroups(by_group[2], combineGroups(by_group[1], by_group[0]));
  TORCH_INTERNAL_ASSERT(result != ScalarType::Undefined, "type promotion over no operands");
  return result;
}

ScalarType wrappedScalarPromotionType(ScalarType held, ScalarType default_dtype) {
  switch (held) {
    case ScalarType::Double:
      return default_dtype;
    case ScalarType::Long:
    case ScalarType::Bool:
      return held;
    default:
      TORCH_INTERNAL_ASSERT(false, "a Python number is held as Double, Long or Bool, found ",
                            c10::toString(held));
  }
}

}  // namespace torch_fuser
