// What a kernel compile reads from the process environment, copied on the thread that asks
// for the kernel and handed to the compile with it.
//
// A compile may run on a worker thread (background_compiler.h). There it must not read the
// environment: getenv and environ race with setenv/putenv on another thread (Python's
// `os.environ[k] = v`, a test's EnvGuard) and may read a freed array. So the calling
// thread copies it once per compile — the variables the compiler process inherits, CXX,
// TORCH_FUSER_CXXFLAGS, TMPDIR and the disk-cache settings among them — and the worker
// reads only the copy. (The copy itself reads `environ` on the calling thread, as any
// code of the program reading its environment there would.)
#pragma once

#include <string>
#include <vector>

namespace torch_fuser {

class CompileEnvironment {
 public:
  // The environment of this process now (call on the thread that submits the compile).
  static CompileEnvironment current();

  // The value of `name`, or "" when it is unset.
  std::string value(const char* name) const;
  // All variables, as NAME=value.
  const std::vector<std::string>& variables() const { return variables_; }

 private:
  std::vector<std::string> variables_;
};

}  // namespace torch_fuser
