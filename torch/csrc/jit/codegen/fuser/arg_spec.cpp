#include "torch/csrc/jit/codegen/fuser/arg_spec.h"

#include <algorithm>

namespace torch_fuser {

ArgSpec::ArgSpec(c10::Device device, int iteration_rank, c10::ScalarType default_dtype,
                 bool index32)
    : device_(device),
      iteration_rank_(iteration_rank),
      default_dtype_(default_dtype),
      index32_(index32),
      hash_(0) {
  mix(static_cast<size_t>(device.type()));
  mix(static_cast<size_t>(device.index() + 1));
  mix(static_cast<size_t>(iteration_rank));
  mix(static_cast<size_t>(default_dtype));
  mix(index32 ? 32 : 64);
}

void ArgSpec::mix(size_t value) {
  // 64-bit variant of boost's hash_combine.
  hash_ ^= value + 0x9e3779b97f4a7c15ULL + (hash_ << 6) + (hash_ >> 2);
}

void ArgSpec::addTensor(TensorDesc desc) {
  tensors_.push_back(desc);
  mix(0x100u | (static_cast<size_t>(desc.dtype) << 16) | (static_cast<size_t>(desc.rank) << 24) |
      (static_cast<size_t>(desc.layout) << 32) | (static_cast<size_t>(desc.inner) << 40));
}

void ArgSpec::addScalar(ScalarKind kind) {
  scalars_.push_back(kind);
  mix(0x200u | (static_cast<size_t>(kind) << 16));
}

void ArgSpec::addOutput(OutputLayout layout) {
  outputs_.push_back(layout);
  mix(0x300u | (static_cast<size_t>(layout.layout) << 16) |
      (static_cast<size_t>(layout.inner) << 24));
}

bool ArgSpec::operator==(const ArgSpec& other) const {
  return hash_ == other.hash_ && device_ == other.device_ &&
         iteration_rank_ == other.iteration_rank_ && default_dtype_ == other.default_dtype_ &&
         index32_ == other.index32_ &&
         std::equal(tensors_.begin(), tensors_.end(), other.tensors_.begin(),
                    other.tensors_.end()) &&
         std::equal(scalars_.begin(), scalars_.end(), other.scalars_.begin(),
                    other.scalars_.end()) &&
         std::equal(outputs_.begin(), outputs_.end(), other.outputs_.begin(), other.outputs_.end());
}

}  // namespace torch_fuser
