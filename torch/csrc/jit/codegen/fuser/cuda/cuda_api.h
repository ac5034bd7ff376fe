// NVRTC and the CUDA driver API, loaded with dlopen at first use.
//
// torch_fuser links neither library and needs neither header: a CPU-only build loads on
// a machine without CUDA, and the NVRTC codegen tests run wherever libnvrtc is installed.
// Each list below is the single place a function is named; the structs of function
// pointers are generated from it.
#pragma once

#include <cstddef>
#include <string>

namespace torch_fuser {
namespace cuda {

// The ABI-level types of the two APIs (enums are ints, handles opaque pointers).
using nvrtcResult = int;
using nvrtcProgram = struct _nvrtcProgram*;
using CUresult = int;
using CUdevice = int;
using CUcontext = struct CUctx_st*;
using CUmodule = struct CUmod_st*;
using CUfunction = struct CUfunc_st*;
using CUstream = struct CUstream_st*;

constexpr int kCuDeviceAttributeMultiprocessorCount = 16;
constexpr int kCuDeviceAttributeComputeCapabilityMajor = 75;
constexpr int kCuDeviceAttributeComputeCapabilityMinor = 76;

// _(name, return type, parameter list)
#define TORCH_FUSER_FORALL_NVRTC(_)                                                         \
  _(nvrtcGetErrorString, const char*, (nvrtcResult))                                        \
  _(nvrtcVersion, nvrtcResult, (int*, int*))                                                \
  _(nvrtcGetNumSupportedArchs, nvrtcResult, (int*))                                         \
  _(nvrtcGetSupportedArchs, nvrtcResult, (int*))                                            \
  _(nvrtcCreateProgram, nvrtcResult,                                                        \
    (nvrtcProgram*, const char*, const char*, int, const char* const*, const char* const*)) \
  _(nvrtcDestroyProgram, nvrtcResult, (nvrtcProgram*))                                      \
  _(nvrtcCompileProgram, nvrtcResult, (nvrtcProgram, int, const char* const*))              \
  _(nvrtcGetProgramLogSize, nvrtcResult, (nvrtcProgram, size_t*))                           \
  _(nvrtcGetProgramLog, nvrtcResult, (nvrtcProgram, char*))                                 \
  _(nvrtcGetCUBINSize, nvrtcResult, (nvrtcProgram, size_t*))                                \
  _(nvrtcGetCUBIN, nvrtcResult, (nvrtcProgram, char*))                                      \
  _(nvrtcGetPTXSize, nvrtcResult, (nvrtcProgram, size_t*))                                  \
  _(nvrtcGetPTX, nvrtcResult, (nvrtcProgram, char*))

#define TORCH_FUSER_FORALL_CUDA_DRIVER(_)                                                        \
  _(cuGetErrorString, CUresult, (CUresult, const char**))                                        \
  _(cuInit, CUresult, (unsigned))                                                                \
  _(cuDeviceGet, CUresult, (CUdevice*, int))                                                     \
  _(cuDeviceGetAttribute, CUresult, (int*, int, CUdevice))                                       \
  _(cuCtxGetCurrent, CUresult, (CUcontext*))                                                     \
  _(cuCtxSetCurrent, CUresult, (CUcontext))                                                      \
  _(cuDevicePrimaryCtxRetain, CUresult, (CUcontext*, CUdevice))                                  \
  _(cuThreadExchangeStreamCaptureMode, CUresult, (int*))                                         \
  _(cuModuleLoadData, CUresult, (CUmodule*, const void*))                                        \
  _(cuModuleUnload, CUresult, (CUmodule))                                                        \
  _(cuModuleGetFunction, CUresult, (CUfunction*, CUmodule, const char*))                         \
  _(cuOccupancyMaxActiveBlocksPerMultiprocessor, CUresult, (int*, CUfunction, int, size_t))      \
  _(cuLaunchKernel, CUresult,                                                                    \
    (CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, CUstream, \
     void**, void**))

#define TORCH_FUSER_DECLARE_POINTER(name, ret, params) ret(*name) params = nullptr;

struct NvrtcApi {
  TORCH_FUSER_FORALL_NVRTC(TORCH_FUSER_DECLARE_POINTER)
};

struct DriverApi {
  TORCH_FUSER_FORALL_CUDA_DRIVER(TORCH_FUSER_DECLARE_POINTER)
};

#undef TORCH_FUSER_DECLARE_POINTER

// The loaded API, or null when the library cannot be loaded (then *why says so).
const NvrtcApi* nvrtc(std::string* why = nullptr);
const DriverApi* driver(std::string* why = nullptr);

// Throws c10::Error naming the call and the driver's error string when `result` != 0.
void checkDriver(CUresult result, const char* call);

}  // namespace cuda
}  // namespace torch_fuser

#define TORCH_FUSER_CUDA_DRIVER_CHECK(call) ::torch_fuser::cuda::checkDriver((call), #call)
