// The machine's measured arithmetic peak, the denominator of the benchmarks' MFU.
//
// Contract: measure_peak_gflops(kind, threads) runs, on `threads` threads at once, a tight loop of
// independent register-only multiply-adds for about `seconds` and returns the best GFLOP/s of
// three tries (other work only ever slows a try down): kFp32 = AVX-512 FMA (vfmadd231ps, 32 flops
// an instruction), kBf16 = AVX512-BF16 dot products (vdpbf16ps: 32 bf16 pairs into 16 fp32 lanes,
// 64 flops an instruction). Twelve accumulators hide the instructions' latency. It returns 0 where
// the CPU (or the build's target) lacks the instructions: the caller then says so, never guesses.
#pragma once

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "mlxft/util/cpu_features.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace mlxft::bench {

enum class PeakKind { kFp32, kBf16 };

#if defined(__x86_64__)
__attribute__((target("avx512f"))) inline float fp32_fma_loop(long iterations) {
  __m512 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(0.001f * static_cast<float>(i));
  const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(0.001f);
  for (long n = 0; n < iterations; ++n) {
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  }
  __m512 sum = acc[0];
  for (int i = 1; i < 12; ++i) sum = _mm512_add_ps(sum, acc[i]);
  return _mm512_reduce_add_ps(sum);
}

__attribute__((target("avx512f,avx512bf16"))) inline float bf16_dot_loop(long iterations) {
  __m512 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(0.0f);
  const __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(0.5f), _mm512_set1_ps(0.25f));
  const __m512bh b = _mm512_cvtne2ps_pbh(_mm512_set1_ps(0.001f), _mm512_set1_ps(0.002f));
  for (long n = 0; n < iterations; ++n) {
    for (int i = 0; i < 12; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], a, b);
  }
  __m512 sum = acc[0];
  for (int i = 1; i < 12; ++i) sum = _mm512_add_ps(sum, acc[i]);
  return _mm512_reduce_add_ps(sum);
}
#endif

inline double measure_peak_gflops(PeakKind kind, int threads, double seconds = 0.3) {
#if defined(__x86_64__)
  const CpuFeatures& f = cpu_features();
  if (!f.avx512f || (kind == PeakKind::kBf16 && !f.avx512_bf16)) return 0.0;
  const double flops_per_iteration = 12.0 * (kind == PeakKind::kBf16 ? 64.0 : 32.0);
  auto run = [&](long iterations) {
    std::atomic<float> sink{0.0f};
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&] {
        const float r = kind == PeakKind::kBf16 ? bf16_dot_loop(iterations) : fp32_fma_loop(iterations);
        sink.store(r, std::memory_order_relaxed);  // keeps the loop's result alive
      });
    }
    for (auto& th : pool) th.join();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return flops_per_iteration * static_cast<double>(iterations) * threads / s * 1e-9;
  };
  long iterations = 1 << 16;
  while (true) {  // size the loop to about `seconds` from a short run
    const auto t0 = std::chrono::steady_clock::now();
    run(iterations);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (s > 0.02) {
      iterations = static_cast<long>(static_cast<double>(iterations) * seconds / s);
      break;
    }
    iterations *= 4;
  }
  double best = 0.0;
  for (int i = 0; i < 3; ++i) best = std::max(best, run(iterations));
  return best;
#else
  (void)kind;
  (void)threads;
  (void)seconds;
  return 0.0;
#endif
}

}  // namespace mlxft::bench
