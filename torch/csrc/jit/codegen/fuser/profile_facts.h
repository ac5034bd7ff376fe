// What a graph's types and profiles say about its values — dtype, device, rank, sizes —
// for the fusion pass's decisions.
//
// A prim::profile node sits on each use of a value: the value itself gets the merge of
// all its uses' profiles (a use in a branch that never ran says nothing and is skipped),
// each profile's output the profile of that one use. An elementwise op computes on its
// inputs' device, so values nobody profiled get the device their inputs agree on.
// Facts are keyed by Value::unique(), never by address: the pass destroys profile nodes
// and merged nodes, their addresses are reused by new values, and a stale entry would
// hand a new value another's type (fusion would then depend on the allocator).
//
// Where a group is guarded (guards.h) the facts it was formed from are checked per call;
// elsewhere they are hints that steer fusion, never correctness (the executor checks).
#pragma once

#include <ATen/core/jit_type.h>
#include <c10/core/Device.h>
#include <c10/util/Optional.h>

#include <cstdint>
#include <unordered_map>
#include <vector>

namespace torch {
namespace jit {
struct Block;
struct Value;
}  // namespace jit
}  // namespace torch

namespace torch_fuser {

class ProfileFacts {
 public:
  // Reads the profiles of `block` and the blocks nested in it.
  explicit ProfileFacts(torch::jit::Block& block);

  // Whether any profile said anything.
  bool empty() const { return types_.empty(); }
  // The value's profiled type, else its static type (null for non-tensors).
  c10::TensorTypePtr type(const torch::jit::Value* v) const;
  c10::optional<c10::Device> device(const torch::jit::Value* v) const;
  c10::optional<int64_t> rank(const torch::jit::Value* v) const;
  c10::optional<std::vector<int64_t>> sizes(const torch::jit::Value* v) const;

 private:
  void collect(torch::jit::Block& block);
  void note(const torch::jit::Value* v, const c10::TensorTypePtr& type);
  void propagateDevices(torch::jit::Block& block);

  std::unordered_map<size_t, c10::TensorTypePtr> types_;
  std::unordered_map<size_t, c10::Device> devices_;
};

}  // namespace torch_fuser
