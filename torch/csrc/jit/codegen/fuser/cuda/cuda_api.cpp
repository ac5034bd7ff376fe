#include "torch/csrc/jit/codegen/fuser/cuda/cuda_api.h"

#include <c10/util/Exception.h>

#include <dlfcn.h>

#include <cstdlib>
#include <vector>

namespace torch_fuser {
namespace cuda {
namespace {

// Where to look for a library: $CUDA_HOME first, then the loader's path, then the usual
// toolkit location.
void* openFirst(const std::vector<std::string>& names, std::string* why) {
  std::vector<std::string> candidates;
  if (const char* home = std::getenv("CUDA_HOME")) {
    for (const std::string& name : names)
      candidates.push_back(std::string(home) + "/lib64/" + name);
  }
  for (const std::string& name : names) candidates.push_back(name);
  for (const std::string& name : names) candidates.push_back("/usr/local/cuda/lib64/" + name);
  std::string errors;
  for (const std::string& path : candidates) {
    if (void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL)) return handle;
    errors += std::string("\n  ") + ::dlerror();
  }
  if (why) *why = "cannot load " + names.front() + ":" + errors;
  return nullptr;
}

template <typename Api>
struct Loaded {
  Api api;
  bool ok = false;
  std::string error;
};

template <typename T>
bool resolve(void* handle, const char* name, T& pointer, std::string& error) {
  pointer = reinterpret_cast<T>(::dlsym(handle, name));
  if (!pointer) error += std::string(" ") + name;
  return pointer != nullptr;
}

const Loaded<NvrtcApi>& loadedNvrtc() {
  static const Loaded<NvrtcApi> loaded = [] {
    Loaded<NvrtcApi> out;
    void* handle = openFirst({"libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12"}, &out.error);
    if (!handle) return out;
    std::string missing;
#define TORCH_FUSER_RESOLVE(name, ret, params) resolve(handle, #name, out.api.name, missing);
    TORCH_FUSER_FORALL_NVRTC(TORCH_FUSER_RESOLVE)
#undef TORCH_FUSER_RESOLVE
    out.ok = missing.empty();
    if (!out.ok) out.error = "libnvrtc lacks:" + missing;
    return out;
  }();
  return loaded;
}

const Loaded<DriverApi>& loadedDriver() {
  static const Loaded<DriverApi> loaded = [] {
    Loaded<DriverApi> out;
    void* handle = openFirst({"libcuda.so.1", "libcuda.so"}, &out.error);
    if (!handle) return out;
    std::string missing;
#define TORCH_FUSER_RESOLVE(name, ret, params) resolve(handle, #name, out.api.name, missing);
    TORCH_FUSER_FORALL_CUDA_DRIVER(TORCH_FUSER_RESOLVE)
#undef TORCH_FUSER_RESOLVE
    out.ok = missing.empty() && out.api.cuInit(0) == 0;
    if (!missing.empty())
      out.error = "libcuda lacks:" + missing;
    else if (!out.ok)
      out.error = "cuInit failed (no usable GPU or driver)";
    return out;
  }();
  return loaded;
}

}  // namespace

const NvrtcApi* nvrtc(std::string* why) {
  const auto& loaded = loadedNvrtc();
  if (!loaded.ok && why) *why = loaded.error;
  return loaded.ok ? &loaded.api : nullptr;
}

const DriverApi* driver(std::string* why) {
  const auto& loaded = loadedDriver();
  if (!loaded.ok && why) *why = loaded.error;
  return loaded.ok ? &loaded.api : nullptr;
}

void checkDriver(CUresult result, const char* call) {
  if (result == 0) return;
  const char* message = nullptr;
  if (const DriverApi* api = driver()) api->cuGetErrorString(result, &message);
  TORCH_CHECK(false, "torch_fuser: CUDA driver call ", call, " failed with error ", result, ": ",
              message ? message : "(unknown)");
}

}  // namespace cuda
}  // namespace torch_fuser
