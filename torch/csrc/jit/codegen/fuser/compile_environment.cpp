#include "torch/csrc/jit/codegen/fuser/compile_environment.h"

#include "torch/csrc/jit/codegen/fuser/options.h"

#include <cstring>

extern char** environ;

namespace torch_fuser {

CompileEnvironment CompileEnvironment::current() {
  // The debug level is read once and cached: read it here, not first on a worker.
  debugLevel();
  CompileEnvironment env;
  for (char** entry = environ; entry && *entry; ++entry) env.variables_.emplace_back(*entry);
  return env;
}

std::string CompileEnvironment::value(const char* name) const {
  const size_t length = std::strlen(name);
  for (const std::string& var : variables_) {
    if (var.size() > length && var[length] == '=' && var.compare(0, length, name) == 0) {
      return var.substr(length + 1);
    }
  }
  return std::string();
}

}  // namespace torch_fuser
