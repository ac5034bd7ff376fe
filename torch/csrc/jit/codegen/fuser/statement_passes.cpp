#include "torch/csrc/jit/codegen/fuser/statement_passes.h"

#include "torch/csrc/jit/codegen/fuser/lowering.h"

#include <vector>

namespace torch_fuser {
namespace {

// Approximate math (TfFastMath, 16-bit compute) is safe only where its error vanishes
// in the final 16-bit rounding. A value that reaches a discontinuous operation through
// any chain — rounding, comparisons, sign, modulo, pow, atan2's branch cut, lgamma's
// poles, a conversion to an integer — is computed exactly: one float ulp there moves
// floor(x / x) from 1 to 0.
bool isDiscontinuous(const Stmt& stmt) {
  if (stmt.kind == StmtKind::kCast) return !c10::isFloatingType(stmt.dtype);
  if (stmt.kind != StmtKind::kOp) return false;
  if (opReturnsBool(stmt.op)) return true;
  switch (stmt.op) {
    case OpKind::Ceil:
    case OpKind::Floor:
    case OpKind::Round:
    case OpKind::Trunc:
    case OpKind::Frac:
    case OpKind::Sign:
    case OpKind::Fmod:
    case OpKind::Remainder:
    case OpKind::DivTrunc:
    case OpKind::DivFloor:
    case OpKind::Threshold:
    case OpKind::Pow:     // a negative base: integral exponents only
    case OpKind::Atan2:   // the branch cut along negative x
    case OpKind::Lgamma:  // poles at the non-positive integers
      return true;
    default:
      return false;
  }
}

}  // namespace

void keepExactBeforeDiscontinuities(LoweredKernel& kernel) {
  std::vector<bool> exact(kernel.stmts.size(), false);
  for (size_t id = kernel.stmts.size(); id-- > 0;) {
    Stmt& stmt = kernel.stmts[id];
    if (exact[id]) stmt.fast_math = false;
    if (!exact[id] && !isDiscontinuous(stmt)) continue;
    for (int arg : stmt.args) exact[arg] = true;
  }
}

void pruneDeadStatements(LoweredKernel& kernel) {
  std::vector<bool> live(kernel.stmts.size(), false);
  for (int id : kernel.outputs) live[id] = true;
  for (size_t id = kernel.stmts.size(); id-- > 0;) {
    if (!live[id]) continue;
    for (int arg : kernel.stmts[id].args) live[arg] = true;
  }
  std::vector<int> renumbered(kernel.stmts.size(), -1);
  std::vector<Stmt> kept;
  for (size_t id = 0; id < kernel.stmts.size(); ++id) {
    if (!live[id]) continue;
    Stmt stmt = std::move(kernel.stmts[id]);
    for (int& arg : stmt.args) arg = renumbered[arg];
    renumbered[id] = static_cast<int>(kept.size());
    kept.push_back(std::move(stmt));
  }
  kernel.stmts = std::move(kept);
  for (int& id : kernel.outputs) id = renumbered[id];
}

}  // namespace torch_fuser
