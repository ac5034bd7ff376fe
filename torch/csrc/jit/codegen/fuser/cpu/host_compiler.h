// Runs the system C++ compiler on generated source and loads the result.
#pragma once

#include <memory>
#include <string>

namespace torch_fuser {
class CompileEnvironment;
namespace cpu {

// A dlopen'ed shared object; closes it on destruction.
class LoadedLibrary {
 public:
  explicit LoadedLibrary(void* handle) : handle_(handle) {}
  ~LoadedLibrary();
  LoadedLibrary(const LoadedLibrary&) = delete;
  LoadedLibrary& operator=(const LoadedLibrary&) = delete;
  void* symbol(const char* name) const;

 private:
  void* handle_;
};

// Compiles `source` into a shared object with `env`'s CXX (default c++) and
// TORCH_FUSER_CXXFLAGS through posix_spawn — no shell — inside a private 0700 temp
// directory, loads it, removes the files (kept, and
// their path printed, at PYTORCH_FUSION_DEBUG=2). Throws c10::Error naming the command,
// the compiler's log and where the source was when the compiler is missing or fails.
std::unique_ptr<LoadedLibrary> compileAndLoad(const std::string& source,
                                              const CompileEnvironment& env);

}  // namespace cpu
}  // namespace torch_fuser
