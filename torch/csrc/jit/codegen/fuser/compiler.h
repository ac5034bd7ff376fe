// Turns a KernelSpec + ArgSpec into a CompiledKernel: lowering, the device flavour's
// codegen, the device backend's compiler. Any failure becomes a CompiledKernel without a
// kernel and with the reason, so the executor falls back; compiler failures also warn
// once per KernelSpec.
#pragma once

#include "torch/csrc/jit/codegen/fuser/compile_environment.h"
#include "torch/csrc/jit/codegen/fuser/kernel_spec.h"

namespace torch_fuser {

// `env`: the environment of the thread that asked for the kernel (compile_environment.h).
std::shared_ptr<const CompiledKernel> compileKernel(KernelSpec& spec, const ArgSpec& arg_spec,
                                                    const CompileEnvironment& env);

// Whether this build and machine can compile kernels for a device type at all. The first
// call for a type loads what its backend needs (NVRTC, the driver): a background compile
// queue is created only after it (background_compiler.h).
bool backendAvailable(c10::DeviceType type);

}  // namespace torch_fuser
