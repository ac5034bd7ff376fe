#include "test/cpp/jit/test_utils.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

// Tests get a kernel disk cache of their own (unless one is set), so what they observe
// does not depend on what earlier runs left in the user's cache, and compile before the
// call that needs a kernel runs it (background compilation's tests turn it on).
int main(int argc, char** argv) {
  ::setenv("TORCH_FUSER_SYNC_COMPILE", "1", 0);
  std::string cache_dir;
  if (!std::getenv("TORCH_FUSER_CACHE_DIR")) {
    char pattern[] = "/tmp/torch_fuser_test_cache_XXXXXX";
    if (::mkdtemp(pattern)) {
      cache_dir = pattern;
      ::setenv("TORCH_FUSER_CACHE_DIR", pattern, 1);
    }
  }
  ::testing::InitGoogleTest(&argc, argv);
  const int result = RUN_ALL_TESTS();
  if (!cache_dir.empty()) torch_fuser::testing::removeDirectory(cache_dir);
  return result;
}
