#include "torch/csrc/jit/codegen/fuser/background_compiler.h"

#include <pthread.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <new>
#include <shared_mutex>
#include <thread>
#include <vector>

namespace torch_fuser {
namespace {

using Task = std::shared_ptr<std::function<void()>>;

// Held shared by each worker while it runs a task (and until the task has left
// running_), exclusively by a fork. Never destroyed: a fork may come at any time.
std::shared_mutex& forkGuard() {
  static auto* guard = new std::shared_mutex();
  return *guard;
}

// Whether this thread is a worker holding forkGuard() shared.
thread_local bool holds_fork_guard = false;

// Workers are detached threads that exit when the queue is empty, so an idle process
// holds no compile threads; `alive_` counts them for the destructor.
class Workers {
 public:
  explicit Workers(Workers*& registered)
      : limit_(std::max(1u, std::min(4u, std::thread::hardware_concurrency() / 2))),
        registered_(registered) {
    static std::once_flag fork_handlers;  // one set of handlers walks every queue
    std::call_once(fork_handlers,
                   [] { ::pthread_atfork(&prepareFork, &parentAfterFork, &childAfterFork); });
    registered_ = this;
  }

  ~Workers() {
    std::unique_lock<std::mutex> lock(mutex_);
    stopping_ = true;
    queue_.clear();
    changed_.wait(lock, [this] { return alive_ == 0; });
    registered_ = nullptr;
  }

  void submit(Task task) {
    std::lock_guard<std::mutex> guard(mutex_);
    queue_.push_back(std::move(task));
    startWorkersLocked();
  }

  void kick() {
    std::lock_guard<std::mutex> guard(mutex_);
    startWorkersLocked();
  }

  void waitIdle() {
    std::unique_lock<std::mutex> lock(mutex_);
    startWorkersLocked();
    changed_.wait(lock, [this] { return queue_.empty() && running_.empty(); });
  }

  int64_t pending() {
    std::lock_guard<std::mutex> guard(mutex_);
    return static_cast<int64_t>(queue_.size() + running_.size());
  }

 private:
  // One worker per queued task, up to the limit.
  void startWorkersLocked() {
    while (!stopping_ && alive_ < limit_ && alive_ < queue_.size() + running_.size()) {
      ++alive_;
      std::thread([this] { work(); }).detach();
    }
  }

  void work() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_ && !queue_.empty()) {
      Task task = std::move(queue_.front());
      queue_.pop_front();
      running_.push_back(task);
      lock.unlock();
      // Order: forkGuard() before mutex_, as prepareFork takes them.
      std::shared_lock<std::shared_mutex> fork_guard(forkGuard());
      holds_fork_guard = true;
      (*task)();
      lock.lock();
      running_.erase(std::find(running_.begin(), running_.end(), task));
      changed_.notify_all();
      lock.unlock();
      holds_fork_guard = false;
      fork_guard.unlock();
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
  Workers*& registered_;  // its slot in queues(), cleared when destroyed
  std::mutex mutex_;
  std::condition_variable changed_;  // a task finished, or a worker exited
  std::deque<Task> queue_;
  std::vector<Task> running_;
  size_t alive_ = 0;
  bool stopping_ = false;
};

// The queues that exist: CPU, CUDA (other devices share the CPU's).
constexpr size_t kQueues = 2;
std::array<Workers*, kQueues>& queues() {
  static std::array<Workers*, kQueues> existing{};  // trivially destructible
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
  forkGuard().lock();
  for (Workers* w : queues()) {
    if (w) w->mutex_.lock();
  }
}

void Workers::parentAfterFork() {
  for (Workers* w : queues()) {
    if (w) w->mutex_.unlock();
  }
  forkGuard().unlock();
}

// The child has none of the parent's threads: what they ran is queued again, and the
// locks and the condition variable are rebuilt rather than released (the parent's threads
// may have been waiting on them, and their waits are recorded in them).
void Workers::childAfterFork() {
  for (Workers* w : queues()) {
    if (!w) continue;
    w->queue_.insert(w->queue_.begin(), w->running_.begin(), w->running_.end());
    w->running_.clear();
    w->alive_ = 0;
    new (&w->changed_) std::condition_variable();
    new (&w->mutex_) std::mutex();
  }
  new (&forkGuard()) std::shared_mutex();
}

}  // namespace

void submitBackgroundCompile(c10::DeviceType device, std::function<void()> task) {
  workersFor(device).submit(std::make_shared<std::function<void()>>(std::move(task)));
}

void kickBackgroundCompiles() {
  for (Workers* w : queues()) {
    if (w) w->kick();
  }
}

void waitForBackgroundCompiles() {
  for (Workers* w : queues()) {
    if (w) w->waitIdle();
  }
}

ForkAllowed::ForkAllowed() {
  if (!holds_fork_guard) return;
  forkGuard().unlock_shared();
  holds_fork_guard = false;
  released_ = true;
}

ForkAllowed::~ForkAllowed() {
  if (!released_) return;
  forkGuard().lock_shared();
  holds_fork_guard = true;
}

int64_t backgroundCompilesPending() {
  int64_t total = 0;
  for (Workers* w : queues()) {
    if (w) total += w->pending();
  }
  return total;
}

}  // namespace torch_fuser
