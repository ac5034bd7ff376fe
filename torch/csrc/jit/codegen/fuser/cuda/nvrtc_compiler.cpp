#include "torch/csrc/jit/codegen/fuser/cuda/nvrtc_compiler.h"

#include "torch/csrc/jit/codegen/fuser/cuda/cuda_api.h"
#include "torch/csrc/jit/codegen/fuser/disk_cache.h"
#include "torch/csrc/jit/codegen/fuser/options.h"

#include <c10/util/Exception.h>
#include <c10/util/hash.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <vector>

namespace torch_fuser {
namespace cuda {
namespace {

void checkNvrtc(const NvrtcApi& api, nvrtcResult result, const char* call) {
  TORCH_CHECK(result == 0, "torch_fuser: ", call, " failed: ", api.nvrtcGetErrorString(result));
}

// Destroys the program on every path out of compileWithNvrtc.
class ProgramGuard {
 public:
  ProgramGuard(const NvrtcApi& api, nvrtcProgram program) : api_(api), program_(program) {}
  ~ProgramGuard() { api_.nvrtcDestroyProgram(&program_); }
  ProgramGuard(const ProgramGuard&) = delete;
  ProgramGuard& operator=(const ProgramGuard&) = delete;

 private:
  const NvrtcApi& api_;
  nvrtcProgram program_;
};

// The arch to compile for: (value, true) for a cubin of exactly the device's arch,
// (value, false) for PTX of the newest supported arch below it.
std::pair<int, bool> pickArch(const NvrtcApi& api, int device_arch) {
  int count = 0;
  checkNvrtc(api, api.nvrtcGetNumSupportedArchs(&count), "nvrtcGetNumSupportedArchs");
  std::vector<int> archs(static_cast<size_t>(count));
  checkNvrtc(api, api.nvrtcGetSupportedArchs(archs.data()), "nvrtcGetSupportedArchs");
  if (std::find(archs.begin(), archs.end(), device_arch) != archs.end()) return {device_arch, true};
  int best = 0;
  for (int arch : archs) {
    if (arch <= device_arch) best = std::max(best, arch);
  }
  TORCH_CHECK(best > 0, "torch_fuser: this NVRTC supports no architecture at or below sm_",
              device_arch);
  return {best, false};
}

// The disk-cache entry name of `source` compiled with `options`: a hash of everything the
// image depends on (torch_fuser's version, NVRTC's, the options with the target, the
// source), and the image's kind.
std::string cacheEntryName(const NvrtcApi& api, const std::string& source,
                           const std::vector<const char*>& options, bool is_cubin) {
  int major = 0, minor = 0;
  checkNvrtc(api, api.nvrtcVersion(&major, &minor), "nvrtcVersion");
  std::string material = std::string("torch_fuser ") + TORCH_FUSER_VERSION + "\nnvrtc " +
                         std::to_string(major) + "." + std::to_string(minor) + "\n";
  for (const char* option : options) material += std::string(option) + "\n";
  material += source;
  return c10::sha1(material).str() + (is_cubin ? ".cubin" : ".ptx");
}

// Compiles `source` into a cubin (or PTX) image; throws with NVRTC's log on failure.
std::string runNvrtc(const NvrtcApi& api, const std::string& source,
                     const std::vector<const char*>& options, bool is_cubin) {
  nvrtcProgram program = nullptr;
  checkNvrtc(api,
             api.nvrtcCreateProgram(&program, source.c_str(), "torch_fuser_kernel.cu", 0, nullptr,
                                    nullptr),
             "nvrtcCreateProgram");
  ProgramGuard guard(api, program);
  const auto start = std::chrono::steady_clock::now();
  const nvrtcResult result =
      api.nvrtcCompileProgram(program, static_cast<int>(options.size()), options.data());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (debugLevel() >= 2) {
    std::cerr << "[torch_fuser] nvrtc";
    for (const char* option : options) std::cerr << " " << option;
    std::cerr << ": " << seconds << " s\n";
  }
  if (result != 0) {
    size_t log_size = 0;
    api.nvrtcGetProgramLogSize(program, &log_size);
    std::string log(log_size, '\0');
    if (log_size > 0) api.nvrtcGetProgramLog(program, &log[0]);
    TORCH_CHECK(false, "torch_fuser: NVRTC failed to compile a kernel (", options[0],
                "): ", api.nvrtcGetErrorString(result), "\n", log,
                "\nset PYTORCH_FUSION_DEBUG=1 to print the source");
  }
  stats().kernels_compiled++;
  stats().compile_nanoseconds += static_cast<int64_t>(seconds * 1e9);
  size_t size = 0;
  std::string image;
  if (is_cubin) {
    checkNvrtc(api, api.nvrtcGetCUBINSize(program, &size), "nvrtcGetCUBINSize");
    image.resize(size);
    checkNvrtc(api, api.nvrtcGetCUBIN(program, &image[0]), "nvrtcGetCUBIN");
  } else {
    checkNvrtc(api, api.nvrtcGetPTXSize(program, &size), "nvrtcGetPTXSize");
    image.resize(size);
    checkNvrtc(api, api.nvrtcGetPTX(program, &image[0]), "nvrtcGetPTX");
  }
  return image;
}

}  // namespace

CudaBinary compileWithNvrtc(const std::string& source, int major, int minor,
                            const CompileEnvironment& env) {
  std::string why;
  const NvrtcApi* api = nvrtc(&why);
  TORCH_CHECK(api != nullptr, "torch_fuser: NVRTC is unavailable: ", why);
  const auto arch = pickArch(*api, major * 10 + minor);

  CudaBinary binary;
  binary.is_cubin = arch.second;
  binary.target = std::string(arch.second ? "sm_" : "compute_") + std::to_string(arch.first);
  const std::string arch_flag = "--gpu-architecture=" + binary.target;
  // --fmad=false keeps a*b+c two roundings, as eager's separate kernels give them: a
  // contraction across ops differs after a cancellation ((x*y + 1) - x*y), found by the
  // fuzzer. The math library's own fma calls are explicit and stay.
  const std::vector<const char*> options = {arch_flag.c_str(), "--std=c++17",
                                            "--device-as-default-execution-space", "--fmad=false"};

  const c10::optional<std::string> cache_dir = diskCacheDirectory(env);
  const std::string entry =
      cache_dir ? cacheEntryName(*api, source, options, binary.is_cubin) : std::string();
  if (cache_dir) {
    if (c10::optional<std::string> image = readCacheEntry(*cache_dir, entry)) {
      stats().disk_cache_hits++;
      if (debugLevel() >= 2) {
        std::cerr << "[torch_fuser] loaded " << *cache_dir << "/" << entry
                  << " from the disk cache\n";
      }
      binary.image = std::move(*image);
      return binary;
    }
  }
  binary.image = runNvrtc(*api, source, options, binary.is_cubin);
  if (cache_dir && !storeCacheEntry(*cache_dir, entry, binary.image) && debugLevel() >= 1) {
    std::cerr << "[torch_fuser] could not store the kernel in the disk cache " << *cache_dir
              << "\n";
  }
  return binary;
}

}  // namespace cuda
}  // namespace torch_fuser
