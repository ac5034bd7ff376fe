// Kernel preambles embedded at build time (tools/embed_resources.cmake). Each is the
// verbatim text of the file of the same name; codegen prints kernels around them.
#pragma once

namespace torch_fuser {
namespace resources {

extern const char* const kernel_abi;       // resources/kernel_abi.h
extern const char* const math_functions;   // resources/math_functions.h
extern const char* const common_preamble;  // resources/common_preamble.h
extern const char* const cpu_float_math;   // cpu/cpu_float_math.h
extern const char* const cpu_preamble;     // cpu/cpu_preamble.h
extern const char* const cuda_preamble;    // cuda/cuda_preamble.h

}  // namespace resources
}  // namespace torch_fuser
