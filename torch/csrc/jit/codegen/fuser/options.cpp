#include "torch/csrc/jit/codegen/fuser/options.h"

#include <cstdlib>

namespace torch_fuser {

int debugLevel() {
  static const int level = [] {
    const char* env = std::getenv("PYTORCH_FUSION_DEBUG");
    return env ? std::atoi(env) : 0;
  }();
  return level;
}

DeviceSwitches& deviceSwitches() {
  static DeviceSwitches switches;
  return switches;
}

FuserStats& stats() {
  static FuserStats counters;
  return counters;
}

std::string hostCompiler() {
  const char* env = std::getenv("CXX");
  return (env && *env) ? std::string(env) : std::string("c++");
}

namespace {
thread_local int64_t fallbacks_on_this_thread = 0;
}  // namespace

int64_t threadFallbacks() {
  return fallbacks_on_this_thread;
}

void countFallback() {
  stats().fallbacks++;
  ++fallbacks_on_this_thread;
}

}  // namespace torch_fuser
