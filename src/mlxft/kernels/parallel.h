// parallel_for(n, fn): runs fn(begin, end) over [0, n) split into contiguous ranges, one per
// thread (kernel_threads(), default: the hardware's threads), the caller's thread taking the first.
// Small n runs inline. Exceptions from workers are rethrown in the caller.
// The other ranges run on a pool of persistent workers (parallel.cpp), started once and woken per
// call: a decoded token makes some 200 kernel calls, and a thread started per call cost more than
// the call's work. A call made while the pool is busy (another thread's call, or a call from inside
// a range) runs its ranges on the calling thread, one after the other.
#pragma once

#include <algorithm>
#include <cstdint>
#include <exception>
#include <functional>
#include <thread>
#include <vector>

namespace mlxft::kernels {

inline int& kernel_threads_ref() {
  static int threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  return threads;
}
inline int kernel_threads() {
  return kernel_threads_ref();
}
inline void set_kernel_threads(int n) {
  kernel_threads_ref() = std::max(1, n);
}

// Runs task(i) for every i in [0, tasks): i = 0 on the caller, the others on the pool's workers
// (or all on the caller when the pool is busy); returns when every task has returned. task must
// not throw.
void run_on_workers(int tasks, const std::function<void(int)>& task);

template <class Fn>
void parallel_for(int64_t n, Fn&& fn, int64_t min_per_thread = 1) {
  const int64_t t =
      std::min<int64_t>(kernel_threads(), std::max<int64_t>(1, n / std::max<int64_t>(1, min_per_thread)));
  if (t <= 1) {
    if (n > 0) fn(int64_t{0}, n);
    return;
  }
  std::vector<std::exception_ptr> errors(static_cast<size_t>(t));
  run_on_workers(static_cast<int>(t), [&](int i) {
    try {
      fn(n * i / t, n * (i + 1) / t);
    } catch (...) {
      errors[static_cast<size_t>(i)] = std::current_exception();
    }
  });
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace mlxft::kernels
