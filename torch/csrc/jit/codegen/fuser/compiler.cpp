#include "torch/csrc/jit/codegen/fuser/compiler.h"

#include "torch/csrc/jit/codegen/fuser/cpu/codegen_cpu.h"
#include "torch/csrc/jit/codegen/fuser/cpu/fused_kernel_cpu.h"
#include "torch/csrc/jit/codegen/fuser/cuda/codegen_cuda.h"
#include "torch/csrc/jit/codegen/fuser/cuda/fused_kernel_cuda.h"
#include "torch/csrc/jit/codegen/fuser/lowering.h"
#include "torch/csrc/jit/codegen/fuser/options.h"

#include <torch/csrc/jit/ir/ir.h>

#include <iostream>

namespace torch_fuser {
namespace {

// One entry per device backend: how it spells a kernel and how it builds one.
struct Backend {
  std::string (*generate)(const LoweredKernel&);
  std::shared_ptr<FusedKernel> (*compile)(const LoweredKernel&, const std::string& source,
                                          c10::Device device, const CompileEnvironment& env);
};

std::shared_ptr<FusedKernel> compileForCPU(const LoweredKernel& kernel, const std::string& source,
                                           c10::Device, const CompileEnvironment& env) {
  return cpu::compileCPUKernel(kernel, source, env);
}

// The backend table. CUDA is listed only where its kernels can run.
const Backend* backendFor(c10::DeviceType type) {
  static const Backend cpu_backend{&cpu::generateSource, &compileForCPU};
  static const Backend cuda_backend{&cuda::generateSource, &cuda::compileCUDAKernel};
  switch (type) {
    case c10::DeviceType::CPU:
      return &cpu_backend;
    case c10::DeviceType::CUDA:
      return cuda::available() ? &cuda_backend : nullptr;
    default:
      return nullptr;
  }
}

std::shared_ptr<const CompiledKernel> fallbackWith(std::string reason) {
  auto result = std::make_shared<CompiledKernel>();
  result->fallback_reason = std::move(reason);
  return result;
}

}  // namespace

bool backendAvailable(c10::DeviceType type) {
  return backendFor(type) != nullptr;
}

std::shared_ptr<const CompiledKernel> compileKernel(KernelSpec& spec, const ArgSpec& arg_spec,
                                                    const CompileEnvironment& env) {
  const Backend* backend = backendFor(arg_spec.device().type());
  if (!backend) {
    return fallbackWith(std::string("no backend for device ") + arg_spec.device().str());
  }
  LoweringResult lowered = lowerFusion(*spec.graph(), arg_spec);
  if (!lowered.kernel) return fallbackWith(lowered.failure);
  lowered.kernel->name = spec.name();

  auto result = std::make_shared<CompiledKernel>();
  result->output_dtypes = lowered.kernel->output_dtypes;
  result->source = backend->generate(*lowered.kernel);
  if (debugLevel() >= 1) {
    std::cerr << "[torch_fuser] kernel " << spec.name() << " (fusion " << spec.key() << ") on "
              << arg_spec.device().str() << ":\n"
              << result->source << "\n";
  }
  try {
    result->kernel = backend->compile(*lowered.kernel, result->source, arg_spec.device(), env);
  } catch (const c10::Error& error) {
    spec.warnOnce(std::string("running fusion in the interpreter: ") +
                  error.what_without_backtrace());
    result->fallback_reason = error.what_without_backtrace();
    return result;
  }
  return result;
}

}  // namespace torch_fuser
