// parallel_for on the persistent workers: every index is covered once for any thread count (the pool
// grows), worker exceptions reach the caller, a call from inside a range runs inline, and callers on
// several threads at once each get their whole result.
#include "mlxft/kernels/parallel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

namespace mlxft::kernels {
namespace {

struct ThreadsGuard {
  int saved = kernel_threads();
  ~ThreadsGuard() { set_kernel_threads(saved); }
};

std::vector<int> covered(int64_t n) {
  std::vector<int> hits(static_cast<size_t>(n), 0);
  parallel_for(n, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) ++hits[static_cast<size_t>(i)];
  });
  return hits;
}

TEST(ParallelFor, CoversEveryIndexOnceForAnyThreadCount) {
  ThreadsGuard guard;
  for (int threads : {1, 2, 3, 8, 2}) {
    set_kernel_threads(threads);
    for (int64_t n : {0, 1, 5, 1000}) {
      const std::vector<int> hits = covered(n);
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)], 1) << threads << " " << n << " " << i;
    }
  }
}

TEST(ParallelFor, AWorkersExceptionReachesTheCaller) {
  ThreadsGuard guard;
  set_kernel_threads(4);
  EXPECT_THROW(parallel_for(100,
                            [](int64_t lo, int64_t) {
                              if (lo >= 50) throw std::runtime_error("range");
                            }),
               std::runtime_error);
  EXPECT_EQ(covered(10)[9], 1);  // the pool still works afterwards
}

TEST(ParallelFor, NestedAndConcurrentCallsGetTheirWholeResult) {
  ThreadsGuard guard;
  set_kernel_threads(3);
  std::atomic<int64_t> sum{0};
  parallel_for(6, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i)
      parallel_for(10, [&](int64_t a, int64_t b) { sum += (b - a) * (i + 1); });
  });
  EXPECT_EQ(sum.load(), 10 * 21);

  std::vector<int64_t> totals(4, 0);
  std::vector<std::thread> callers;
  for (size_t c = 0; c < totals.size(); ++c) {
    callers.emplace_back([&, c] {
      for (int round = 0; round < 200; ++round) {
        std::atomic<int64_t> part{0};
        parallel_for(64, [&](int64_t lo, int64_t hi) { part += hi - lo; });
        totals[c] += part.load();
      }
    });
  }
  for (auto& t : callers) t.join();
  for (int64_t t : totals) EXPECT_EQ(t, 200 * 64);
}

}  // namespace
}  // namespace mlxft::kernels
