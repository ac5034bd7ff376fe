#include "torch/csrc/jit/codegen/fuser/background_compiler.h"

#include <pthread.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <new>
#include <shared_mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace torch_fuser {
namespace {

struct Task {
  uint64_t sequence;                           // submission order within its queue
  std::shared_ptr<std::function<void()>> run;  // shared with running_ while it runs
};

// Held shared while a compile runs (by workers and by threads compiling for their own
// call), exclusively by a fork. Never destroyed: a fork may come at any time.
std::shared_mutex& forkGuard() {
  static auto* guard = new std::shared_mutex();
  return *guard;
}
// Set while a fork waits for the guard: glibc's rwlock prefers readers, so compiles that
// keep overlapping would otherwise hold a fork off until the queue drains.
std::atomic<bool> fork_pending{false};

// Set in a forked child that inherited queued compiles and no workers: until a kick
// starts them, kickBackgroundCompiles() has work (else it returns without a lock).
std::atomic<bool> orphaned_tasks{false};

thread_local bool holds_fork_guard = false;  // this thread holds forkGuard() shared
thread_local bool is_worker = false;

void lockForkGuardShared() {
  while (fork_pending.load(std::memory_order_acquire)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  forkGuard().lock_shared();
  holds_fork_guard = true;
}

void unlockForkGuardShared() {
  holds_fork_guard = false;
  forkGuard().unlock_shared();
}

// Workers are detached threads that exit when the queue is empty, so an idle process
// holds no compile threads; `alive_` counts them for the destructor.
class Workers {
 public:
  explicit Workers(std::atomic<Workers*>& registered)
      : limit_(std::max(1u, std::min(4u, std::thread::hardware_concurrency() / 2))),
        registered_(registered) {
    static std::once_flag fork_handlers;  // one set of handlers walks every queue
    std::call_once(fork_handlers,
                   [] { ::pthread_atfork(&prepareFork, &parentAfterFork, &childAfterFork); });
    registered_.store(this);
  }

  ~Workers() {
    registered_.store(nullptr);
    std::unique_lock<std::mutex> lock(mutex_);
    stopping_ = true;
    queue_.clear();
    changed_.wait(lock, [this] { return alive_ == 0; });
  }

  void submit(std::function<void()> run) {
    std::unique_lock<std::mutex> lock(mutex_);
    queue_.push_back(
        Task{next_sequence_++, std::make_shared<std::function<void()>>(std::move(run))});
    startWorkersLocked();
    if (alive_ > 0) return;
    // No thread could be started (a process or container thread limit): compile here.
    Task task = std::move(queue_.back());
    queue_.pop_back();
    lock.unlock();
    (*task.run)();
  }

  void kick() {
    std::lock_guard<std::mutex> guard(mutex_);
    startWorkersLocked();
  }

  // Waits for the tasks submitted before the call, not for later ones.
  void waitIdle() {
    std::unique_lock<std::mutex> lock(mutex_);
    startWorkersLocked();
    const uint64_t last = next_sequence_;
    changed_.wait(lock, [&] {
      for (const Task& t : queue_) {
        if (t.sequence < last) return false;
      }
      for (const Task& t : running_) {
        if (t.sequence < last) return false;
      }
      return true;
    });
  }

  int64_t pending() {
    std::lock_guard<std::mutex> guard(mutex_);
    return static_cast<int64_t>(queue_.size() + running_.size());
  }

 private:
  // One worker per queued task, up to the limit.
  void startWorkersLocked() {
    while (!stopping_ && alive_ < limit_ && alive_ < queue_.size() + running_.size()) {
      try {
        std::thread([this] { work(); }).detach();
      } catch (const std::system_error&) {
        return;  // the workers there are will take the task (submit handles none)
      }
      ++alive_;
    }
  }

  void work() {
    is_worker = true;
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_ && !queue_.empty()) {
      Task task = std::move(queue_.front());
      queue_.pop_front();
      running_.push_back(task);
      lock.unlock();
      // Order: forkGuard() before mutex_, as prepareFork takes them.
      lockForkGuardShared();
      (*task.run)();
      lock.lock();
      auto it = std::find_if(running_.begin(), running_.end(),
                             [&](const Task& t) { return t.sequence == task.sequence; });
      task = std::move(*it);
      running_.erase(it);
      changed_.notify_all();
      lock.unlock();
      // Dropped here, outside mutex_: it may hold the last reference to a KernelSpec,
      // whose kernels then unload.
      task.run.reset();
      unlockForkGuardShared();
      lock.lock();
    }
    --alive_;
    changed_.notify_all();
  }

  // fork() with the locks held, so the child's copy of each queue is consistent.
  static void prepareFork();
  static void parentAfterFork();
  static void childAfterFork();

  const size_t limit_;
  std::atomic<Workers*>& registered_;  // its slot in queues(), cleared when destroyed
  std::mutex mutex_;
  std::condition_variable changed_;  // a task finished, or a worker exited
  std::deque<Task> queue_;
  std::vector<Task> running_;
  uint64_t next_sequence_ = 0;
  size_t alive_ = 0;
  bool stopping_ = false;
};

// The queues that exist: CPU, CUDA (other devices share the CPU's).
constexpr size_t kQueues = 2;
std::array<std::atomic<Workers*>, kQueues>& queues() {
  static std::array<std::atomic<Workers*>, kQueues> existing{};  // trivially destructible
  return existing;
}

// Each queue is created at its first submit (see the header on the order of destruction).
Workers& workersFor(c10::DeviceType device) {
  if (device == c10::DeviceType::CUDA) {
    static Workers cuda(queues()[1]);
    return cuda;
  }
  static Workers cpu(queues()[0]);
  return cpu;
}

void Workers::prepareFork() {
  fork_pending.store(true, std::memory_order_release);
  forkGuard().lock();
  for (auto& queue : queues()) {
    if (Workers* w = queue.load()) w->mutex_.lock();
  }
}

void Workers::parentAfterFork() {
  for (auto& queue : queues()) {
    if (Workers* w = queue.load()) w->mutex_.unlock();
  }
  forkGuard().unlock();
  fork_pending.store(false, std::memory_order_release);
}

// The child has none of the parent's threads: what they ran is queued again, and the
// locks and the condition variable are rebuilt rather than released (the parent's threads
// may have been waiting on them, and their waits are recorded in them).
void Workers::childAfterFork() {
  for (auto& queue : queues()) {
    Workers* w = queue.load();
    if (!w) continue;
    w->queue_.insert(w->queue_.begin(), w->running_.begin(), w->running_.end());
    w->running_.clear();
    w->alive_ = 0;
    if (!w->queue_.empty()) orphaned_tasks.store(true);
    new (&w->changed_) std::condition_variable();
    new (&w->mutex_) std::mutex();
  }
  new (&forkGuard()) std::shared_mutex();
  fork_pending.store(false, std::memory_order_release);
}

}  // namespace

void submitBackgroundCompile(c10::DeviceType device, std::function<void()> task) {
  workersFor(device).submit(std::move(task));
}

void kickBackgroundCompiles() {
  if (!orphaned_tasks.exchange(false)) return;
  for (auto& queue : queues()) {
    if (Workers* w = queue.load()) w->kick();
  }
}

void waitForBackgroundCompiles() {
  for (auto& queue : queues()) {
    if (Workers* w = queue.load()) w->waitIdle();
  }
}

int64_t backgroundCompilesPending() {
  int64_t total = 0;
  for (auto& queue : queues()) {
    if (Workers* w = queue.load()) total += w->pending();
  }
  return total;
}

CompileSection::CompileSection() {
  if (holds_fork_guard) return;  // a worker's task, or a nested section
  lockForkGuardShared();
  owns_ = true;
}

CompileSection::~CompileSection() {
  if (owns_) unlockForkGuardShared();
}

ForkAllowed::ForkAllowed() {
  if (!is_worker || !holds_fork_guard) return;
  unlockForkGuardShared();
  released_ = true;
}

ForkAllowed::~ForkAllowed() {
  if (released_) lockForkGuardShared();
}

}  // namespace torch_fuser
