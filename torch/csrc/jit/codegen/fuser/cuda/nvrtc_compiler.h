// Compiles CUDA C++ with NVRTC for one compute capability.
#pragma once

#include "torch/csrc/jit/codegen/fuser/compile_environment.h"

#include <string>

namespace torch_fuser {
namespace cuda {

struct CudaBinary {
  std::string image;  // a cubin, or NUL-terminated PTX for the driver to JIT
  bool is_cubin = false;
  std::string target;  // e.g. "sm_90" or "compute_90"
};

// A cubin for sm_<major><minor> when this NVRTC supports that arch, else PTX for the
// newest supported arch not above it. The image comes from the disk cache (disk_cache.h)
// when a verified entry for this source, target, NVRTC and torch_fuser version is there,
// and is stored there after a compile. Throws c10::Error with NVRTC's log on failure;
// never leaks the NVRTC program.
CudaBinary compileWithNvrtc(const std::string& source, int major, int minor,
                            const CompileEnvironment& env);

}  // namespace cuda
}  // namespace torch_fuser
