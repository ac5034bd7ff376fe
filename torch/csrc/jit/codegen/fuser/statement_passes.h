// Passes over a LoweredKernel's statements after lowering: dead statements dropped (the
// printed source names only what it computes), and approximate 16-bit math (TfFastMath)
// switched off wherever a value reaches a discontinuous operation.
#pragma once

namespace torch_fuser {

struct LoweredKernel;

// Drops statements no output depends on (an alpha of 1, an unused input) and renumbers
// the rest in order.
void pruneDeadStatements(LoweredKernel& kernel);

// Clears Stmt::fast_math on every statement a discontinuous operation depends on.
void keepExactBeforeDiscontinuities(LoweredKernel& kernel);

}  // namespace torch_fuser
