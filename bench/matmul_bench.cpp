// Float32 matmul throughput of MLX on this machine, in GFLOP/s.
//
// Shapes are the ones a Mistral-7B LoRA step spends its time in: a 512-token
// activation block times a 4096x4096 (attention) and a 4096x14336 (MLP)
// weight, on 1 and 2 BLAS threads. Two programs are built from this file:
//   matmul_bench            - mlxft's build (OpenBLAS interposed on Linux)
//   matmul_bench_wheel_blas - linked against the MLX wheel alone, i.e. the
//                             BLAS the wheel bundles (reference BLAS on Linux)
// Run both to see what the set-up's BLAS choice is worth.
#include <benchmark/benchmark.h>
#include <mlx/mlx.h>

#ifndef MLXFT_BENCH_WHEEL_BLAS
#include "mlxft/util/blas.h"
#endif

namespace mx = mlx::core;

static void BM_MatmulF32(benchmark::State& state) {
  const int m = static_cast<int>(state.range(0));
  const int k = static_cast<int>(state.range(1));
  const int n = static_cast<int>(state.range(2));
  const int threads = static_cast<int>(state.range(3));
#ifndef MLXFT_BENCH_WHEEL_BLAS
  mlxft::set_blas_threads(threads);
#else
  if (threads != 1) {
    state.SkipWithError("the wheel's reference BLAS is single-threaded");
    return;
  }
#endif
  mx::set_default_device(mx::Device::cpu);
  auto key = mx::random::key(0);
  auto a = mx::random::normal({m, k}, mx::float32, 0.0f, 1.0f, key);
  auto b = mx::random::normal({k, n}, mx::float32, 0.0f, 1.0f, key);
  mx::eval({a, b});
  for (auto _ : state) {
    auto c = mx::matmul(a, b);
    mx::eval(c);
  }
  const double flops = 2.0 * m * k * n;
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["threads"] = threads;
}

BENCHMARK(BM_MatmulF32)
    ->ArgNames({"M", "K", "N", "threads"})
    ->Args({512, 4096, 4096, 1})
    ->Args({512, 4096, 4096, 2})
    ->Args({512, 4096, 14336, 1})
    ->Args({512, 4096, 14336, 2})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0)
    ->UseRealTime();

BENCHMARK_MAIN();
