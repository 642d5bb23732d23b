// Generation speed on the `small` preset (hidden 768, 12 layers, vocab 32768,
// random weights in memory, float32): a prompt pass of 128 tokens, one KV-cached
// decode step at position 128, and the LM-head mat-vec that dominates a step.
// Prints tokens/s; asserts nothing.
#include <benchmark/benchmark.h>
#include <mlx/mlx.h>

#include "mlxft/model/init.h"
#include "mlxft/model/llama.h"

namespace mx = mlx::core;

namespace {

const mlxft::Model& small_model() {
  static const mlxft::Model model = [] {
    mlxft::Model m;
    m.config = mlxft::preset_config("small", 32768);
    m.weights = mlxft::random_weights(m.config, 0, mx::float32);
    for (auto& [name, w] : m.weights) mx::eval(w);
    return m;
  }();
  return model;
}

void BM_Prefill128(benchmark::State& state) {
  const auto& m = small_model();
  const mx::array tokens = mx::random::randint(0, 32768, {1, 128}, mx::int32, mx::random::key(1));
  for (auto _ : state) {
    mlxft::KVCache cache;
    mx::eval(mlxft::forward(m, tokens, {}, &cache));
  }
  state.counters["tokens/s"] =
      benchmark::Counter(128.0 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_DecodeStepAt128(benchmark::State& state) {
  const auto& m = small_model();
  mlxft::KVCache base;
  mx::eval(
      mlxft::forward(m, mx::random::randint(0, 32768, {1, 128}, mx::int32, mx::random::key(1)), {}, &base));
  const mx::array token = mx::array({42}, {1, 1});
  for (auto _ : state) {
    mlxft::KVCache cache = base;
    mx::eval(mlxft::forward(m, token, {}, &cache));
  }
  state.counters["tokens/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_LmHeadMatVec(benchmark::State& state) {
  const auto& m = small_model();
  const mx::array x = mx::random::normal({1, 1, 768}, mx::float32, mx::random::key(2));
  const mx::array& w = m.weight("lm_head.weight");
  for (auto _ : state) mx::eval(mx::matmul(x, mx::transpose(w)));
  state.counters["GB/s"] =
      benchmark::Counter(static_cast<double>(w.nbytes()) * static_cast<double>(state.iterations()) / 1e9,
                         benchmark::Counter::kIsRate);
}

// The same product as W x (a column), to compare BLAS's two mat-vec layouts.
void BM_LmHeadWx(benchmark::State& state) {
  const auto& m = small_model();
  const mx::array x = mx::random::normal({768, 1}, mx::float32, mx::random::key(2));
  const mx::array& w = m.weight("lm_head.weight");
  for (auto _ : state) mx::eval(mx::matmul(w, x));
  state.counters["GB/s"] =
      benchmark::Counter(static_cast<double>(w.nbytes()) * static_cast<double>(state.iterations()) / 1e9,
                         benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK(BM_LmHeadWx)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Prefill128)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_DecodeStepAt128)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_LmHeadMatVec)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_MAIN();
