// parallel_for(n, fn): runs fn(begin, end) over [0, n) split into contiguous ranges, one per
// thread (kernel_threads(), default: the hardware's threads), the caller's thread taking the first.
// Small n runs inline. Exceptions from workers are rethrown in the caller.
#pragma once

#include <algorithm>
#include <cstdint>
#include <exception>
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

template <class Fn>
void parallel_for(int64_t n, Fn&& fn, int64_t min_per_thread = 1) {
  const int64_t t =
      std::min<int64_t>(kernel_threads(), std::max<int64_t>(1, n / std::max<int64_t>(1, min_per_thread)));
  if (t <= 1) {
    if (n > 0) fn(int64_t{0}, n);
    return;
  }
  std::vector<std::thread> workers;
  std::vector<std::exception_ptr> errors(static_cast<size_t>(t));
  auto range = [&](int64_t i) { return std::pair<int64_t, int64_t>{n * i / t, n * (i + 1) / t}; };
  for (int64_t i = 1; i < t; ++i) {
    workers.emplace_back([&, i] {
      try {
        auto [lo, hi] = range(i);
        fn(lo, hi);
      } catch (...) {
        errors[static_cast<size_t>(i)] = std::current_exception();
      }
    });
  }
  try {
    auto [lo, hi] = range(0);
    fn(lo, hi);
  } catch (...) {
    errors[0] = std::current_exception();
  }
  for (auto& w : workers) w.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace mlxft::kernels
