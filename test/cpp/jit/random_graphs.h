// A seeded generator of random fusible graphs and inputs, for differential tests: every
// case runs fused and unfused (eager ops in the interpreter) and must agree.
#pragma once

#include <ATen/ATen.h>
#include <ATen/core/ivalue.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace torch_fuser {
namespace testing {

struct RandomCase {
  uint64_t seed;
  std::string ir;                   // the graph, as IR text
  std::vector<c10::IValue> inputs;  // tensors (varied shapes, strides, dtypes) and scalars
  // Whether an op on an input is an extra output: horizontal fusion merges it into the
  // chain's kernel only where their spaces are known equal, else it is a group (or a lone
  // op) of its own.
  bool has_sibling = false;
  std::string describe() const;  // seed, IR and input layouts, for failure messages
};

// Deterministic in `seed`; `device` is where input tensors live.
RandomCase makeRandomCase(uint64_t seed, c10::Device device = c10::kCPU);

// The relative tolerance for a case's float outputs: float32 math anywhere in the graph
// (a float input or a conversion; vector math libraries round differently) bounds the
// precision of all outputs.
double caseTolerance(const RandomCase& c);

// Compares one output pair; empty when equal (NaN == NaN; floats within `rtol`), else a
// description of the first mismatch.
std::string compareOutputs(const at::Tensor& fused, const at::Tensor& eager, double rtol);

// Fuses the case's graph, checks it became one group, runs it fused and unfused and
// compares (both raising counts as agreement). Each output element must match one
// reference the kernel may follow, or be no further from float64 math than it: eager, and
// with 16-bit inputs also float32 math and the kernel's 16-bit contract evaluated with
// eager ops; where all references disagree, only a NaN none of them has fails. Returns ""
// or what went wrong (every reference's value at the first bad element); sets
// `ran_kernel` when the fused run used a compiled kernel rather than the fallback.
std::string runRandomCase(const RandomCase& c, bool& ran_kernel);

// Runs random cases on `device` (test_fusion_fuzz.cpp): FUSER_FUZZ_CASES (default
// `default_cases`) from seed FUSER_FUZZ_SEED (default 1) on FUSER_FUZZ_THREADS threads;
// fails with the seeds (and how to replay them) of cases that differ from eager.
void fuzzAgainstEager(const c10::Device& device, int64_t default_cases);

}  // namespace testing
}  // namespace torch_fuser
