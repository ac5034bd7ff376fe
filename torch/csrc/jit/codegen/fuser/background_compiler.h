// Worker threads that compile kernels while calls run their fallback (kernel_spec.cpp).
//
// Each device type has its own queue, run in submission order on up to a few threads (half
// the cores, at most 4: a compile is a compiler process or an NVRTC call, and the callers'
// work must keep a core); workers exit when their queue is empty.
// Exit: a queue's owner is a static created at its first submit, after the caller made the
// backend ready (compiler.h: prepareBackend; its libraries and statics exist by then), so
// it is destroyed before them: it drops queued tasks and waits for running ones, and no
// compile outlives what it uses.
// Fork: a fork waits until no worker is inside a task, except where a task waits for a
// compiler process (ForkAllowed): a worker elsewhere may hold locks (interned symbols,
// the allocator, iostreams) the child could never take. A child starts without workers;
// tasks queued or running in the parent at the fork are queued again in the child and run
// once a caller kicks them, so no kernel stays "compiling" forever there.
#pragma once

#include <c10/core/DeviceType.h>

#include <cstdint>
#include <functional>

namespace torch_fuser {

// Queues `task` (which must not throw) for a worker of `device`'s queue.
void submitBackgroundCompile(c10::DeviceType device, std::function<void()> task);
// Starts workers for queued tasks a fork left without any; otherwise one atomic read.
void kickBackgroundCompiles();
// Blocks until every task submitted so far has finished.
void waitForBackgroundCompiles();
// Tasks queued or running, all queues.
int64_t backgroundCompilesPending();

// A compile on the calling thread (sync compilation): a fork waits until it ends, so a
// child never inherits a kernel that a vanished thread was compiling.
class CompileSection {
 public:
  CompileSection();
  ~CompileSection();
  CompileSection(const CompileSection&) = delete;
  CompileSection& operator=(const CompileSection&) = delete;

 private:
  bool owns_ = false;
};

// On a worker, lets a fork proceed while the scope lasts: for waits that hold no lock of
// this process (a compiler child process); the child compiles the task again. Elsewhere
// a no-op.
class ForkAllowed {
 public:
  ForkAllowed();
  ~ForkAllowed();
  ForkAllowed(const ForkAllowed&) = delete;
  ForkAllowed& operator=(const ForkAllowed&) = delete;

 private:
  bool released_ = false;
};

}  // namespace torch_fuser
