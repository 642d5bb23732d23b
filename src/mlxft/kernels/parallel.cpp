// The persistent workers behind parallel_for (parallel.h).
//
// One job at a time: the caller publishes the task and the number of tasks under the mutex, bumps
// the generation and wakes the workers; worker w (1-based) runs task w when w < tasks, then counts
// down. Workers spin briefly before they sleep, since kernel calls come back to back while a token
// is decoded. The workers live for the whole process (detached; they hold no resources).
#include "mlxft/kernels/parallel.h"

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define MLXFT_PAUSE() _mm_pause()
#else
#define MLXFT_PAUSE() std::this_thread::yield()
#endif

namespace mlxft::kernels {
namespace {

thread_local bool in_task = false;  // a worker, or a caller running its own task 0

class WorkerPool {
 public:
  // False (nothing run) when another job holds the pool.
  bool try_run(int tasks, const std::function<void(int)>& task) {
    std::unique_lock<std::mutex> job(job_mutex_, std::try_to_lock);
    if (!job.owns_lock()) return false;
    if (!grow(tasks - 1)) return false;  // the caller runs every task itself
    {
      std::lock_guard<std::mutex> lock(mutex_);
      task_ = &task;
      tasks_ = tasks;
      pending_.store(tasks - 1, std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    in_task = true;
    task(0);
    in_task = false;
    for (int spin = 0; pending_.load(std::memory_order_acquire) > 0; ++spin) {
      if (spin < 1024) {
        MLXFT_PAUSE();
      } else {
        std::unique_lock<std::mutex> lock(mutex_);
        done_.wait(lock, [&] { return pending_.load(std::memory_order_acquire) == 0; });
      }
    }
    return true;
  }

 private:
  // Starts workers until there are `n` (never fewer than before). A new worker waits for the
  // generation after the current one, the job about to be published, whenever it starts running.
  // False when a thread cannot be started (under `ulimit -v` its stack may not fit): a worker counted
  // but never started would leave its task undone and the caller waiting for it forever.
  bool grow(int n) {
    while (workers_ < n) {
      const int index = workers_ + 1;
      const uint64_t before = generation_.load(std::memory_order_acquire);
      try {
        std::thread([this, index, before] { work(index, before); }).detach();
      } catch (const std::system_error&) {
        return false;
      }
      workers_ = index;
    }
    return true;
  }

  void work(int index, uint64_t seen) {
    in_task = true;
    for (;;) {
      for (int spin = 0; generation_.load(std::memory_order_acquire) == seen; ++spin) {
        if (spin < 1024) {
          MLXFT_PAUSE();
          continue;
        }
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
      }
      const std::function<void(int)>* task;
      int tasks;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        seen = generation_.load(std::memory_order_acquire);
        task = task_;
        tasks = tasks_;
      }
      if (index < tasks) {
        (*task)(index);
        if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
          std::lock_guard<std::mutex> lock(mutex_);
          done_.notify_all();
        }
      }
    }
  }

  std::mutex job_mutex_;  // one job at a time
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  const std::function<void(int)>* task_ = nullptr;
  int tasks_ = 0;
  int workers_ = 0;  // guarded by job_mutex_
};

WorkerPool& pool() {
  static WorkerPool* p = new WorkerPool();  // never destroyed: detached workers use it until exit
  return *p;
}

}  // namespace

void run_on_workers(int tasks, const std::function<void(int)>& task) {
  if (tasks <= 1 || in_task || !pool().try_run(tasks, task)) {
    for (int i = 0; i < tasks; ++i) task(i);
  }
}

}  // namespace mlxft::kernels
