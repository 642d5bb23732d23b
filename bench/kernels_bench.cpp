// The CPU kernels (src/mlxft/kernels) against MLX's own ops, side by side in one run.
//
//   kernels_bench [--reps R] [--only peak|linear|quant|decode|ce|attn|rows|lora] [--threads T] [--kernel-only]
//
// peak: the machine's measured fp32 and bf16 peaks (bench/peak_flops.h), the MFU denominators.
// Prints, per case, the median and best of R timed runs (after one warm-up), GFLOP/s and the ratio
// to the MLX float32 baseline of the same table, both from the best run (the machines are shared:
// the best run is the least disturbed one), and for the cross-entropy the peak memory above
// what was live before the case (mx::get_peak_memory). Linear: y = x W^T with x [M, K], W [N, K]
// (M x K x N), forward and dx = dy W. Quantized: 4-bit group 64. Cross-entropy: N tokens, hidden
// E, vocabulary V, 30 % of the tokens masked, forward (loss) and forward + backward (loss and dh).
// Attention: causal, q [B, H, T, D], k and v [B, K, T, D]; the baseline is the path before the fused
// kernel (float32 matmuls over [B, K, G T, T] around kernels::causal_softmax; --kernel-only skips the
// baselines, for comparing two builds of the kernel), GFLOP/s counts the causal half only (forward 2 B H T^2
// D, forward + backward 3.5 times that without the recomputation). Rows: RMSNorm over [B, T, E] and RoPE with
// the split into heads ([B, T, H D] -> [B, H, T, D]), the kernels against MLX's fast::rms_norm and reshape +
// transpose + fast::rope, forward and the x-gradient alone (MLX evaluates only what the gradient needs; the
// GFLOP/s column is 0: memory-bound passes).
#include <fmt/format.h>
#include <mlx/mlx.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>

#include "mlxft/kernels/causal_attention.h"
#include "mlxft/kernels/causal_softmax.h"
#include "mlxft/kernels/fused_head_ce.h"
#include "mlxft/kernels/low_rank.h"
#include "mlxft/kernels/parallel.h"
#include "mlxft/kernels/quantized_rows.h"
#include "mlxft/kernels/rms_norm.h"
#include "mlxft/kernels/rope_heads.h"
#include "mlxft/model/lora_branch.h"
#include "mlxft/util/blas.h"
#include "mlxft/util/cpu_features.h"
#include "peak_flops.h"

namespace mx = mlx::core;
namespace k = mlxft::kernels;

namespace {

int g_reps = 5;
bool g_kernel_only = false;

struct Timing {
  double median_ms, best_ms, peak_mb;
};

Timing time_it(const std::function<std::vector<mx::array>()>& fn) {
  mx::eval(fn());  // warm-up: primitive creation, packing, allocator
  mx::clear_cache();
  const size_t base = mx::get_active_memory();
  mx::reset_peak_memory();
  std::vector<double> ms;
  for (int r = 0; r < g_reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    mx::eval(fn());
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  const double peak = static_cast<double>(mx::get_peak_memory() - std::min(base, mx::get_peak_memory()));
  return {ms[ms.size() / 2], ms[0], peak / 1e6};
}

void row(const std::string& name, const Timing& t, double gflop, double baseline_ms, bool memory = false) {
  fmt::print("  {:<44} {:9.2f} {:9.2f} {:9.0f} {:7.2f}x", name, t.median_ms, t.best_ms,
             gflop / t.best_ms * 1e3, baseline_ms / t.best_ms);
  if (memory) fmt::print(" {:9.1f}", t.peak_mb);
  fmt::print("\n");
}

void header(const std::string& title, bool memory = false) {
  fmt::print("\n{}\n  {:<44} {:>9} {:>9} {:>9} {:>8}{}\n", title, "case", "median ms", "best ms", "GFLOP/s",
             "vs MLX", memory ? "   peak MB" : "");
}

mx::array randn(const mx::Shape& s, float sd, uint64_t seed) {
  mx::array a =
      mx::multiply(mx::random::normal(s, mx::float32, 0.0f, 1.0f, mx::random::key(seed)), mx::array(sd));
  mx::eval(a);
  return a;
}

k::FrozenLinearWeightPtr frozen(const mx::array& w, mx::Dtype d, bool pack) {
  k::FrozenLinearOptions o;
  o.compute_dtype = d;
  o.pack = pack;
  return k::make_frozen_linear_weight(w, o);
}

mx::array dx_of(const mx::array& x, const mx::array& dy,
                const std::function<mx::array(const mx::array&)>& f) {
  return mx::vjp([&](const std::vector<mx::array>& in) { return std::vector<mx::array>{f(in[0])}; }, {x},
                 {dy})
      .second[0];
}

void bench_linear(int M, int K, int N) {
  const mx::array x = randn({M, K}, 1.0f, 1), w = randn({N, K}, 0.02f, 2), dy = randn({M, N}, 1.0f, 3);
  const double gf = 2.0 * M * K * N * 1e-9;
  header(fmt::format("linear {}x{}x{} (M x K x N)", M, K, N));
  const Timing base = time_it([&] { return std::vector<mx::array>{mx::matmul(x, mx::transpose(w))}; });
  row("forward  MLX float32 matmul (OpenBLAS)", base, gf, base.best_ms);
  for (auto [d, pack, name] : {std::tuple{mx::float32, false, "frozen float32, W plain"},
                               std::tuple{mx::float32, true, "frozen float32, W packed"},
                               std::tuple{mx::bfloat16, false, "frozen bf16, W plain"},
                               std::tuple{mx::bfloat16, true, "frozen bf16, W packed"}}) {
    const auto fw = frozen(w, d, pack);
    row(fmt::format("forward  {}", name),
        time_it([&] { return std::vector<mx::array>{k::frozen_linear(x, fw)}; }), gf, base.best_ms);
  }
  const Timing bbase = time_it([&] { return std::vector<mx::array>{mx::matmul(dy, w)}; });
  row("backward MLX float32 dy W", bbase, gf, bbase.best_ms);
  for (auto [d, pb, name] : {std::tuple{mx::float32, false, "frozen float32 dx, W plain"},
                             std::tuple{mx::bfloat16, false, "frozen bf16 dx, W plain"},
                             std::tuple{mx::bfloat16, true, "frozen bf16 dx, W packed"}}) {
    k::FrozenLinearOptions o;
    o.compute_dtype = d;
    o.pack_backward = pb;
    const auto fw = k::make_frozen_linear_weight(w, o);
    row(fmt::format("backward {}", name), time_it([&] {
          return std::vector<mx::array>{
              dx_of(x, dy, [&](const mx::array& a) { return k::frozen_linear(a, fw); })};
        }),
        gf, bbase.best_ms);
  }
}

void bench_quant(int M, int K, int N, bool with_mlx_qmm) {
  const mx::array x = randn({M, K}, 1.0f, 1), w = randn({N, K}, 0.02f, 2);
  auto q = mx::quantize(w, 64, 4);
  mx::eval(q);
  const double gf = 2.0 * M * K * N * 1e-9;
  header(fmt::format("4-bit g64 linear {}x{}x{} (resident weight MB in the name)", M, K, N));
  const Timing base = time_it([&] { return std::vector<mx::array>{mx::matmul(x, mx::transpose(w))}; });
  row("MLX float32 matmul on a float copy", base, gf, base.best_ms);
  if (with_mlx_qmm) {
    row("MLX quantized_matmul", time_it([&] {
          return std::vector<mx::array>{mx::quantized_matmul(x, q[0], q[1], q[2], true, 64, 4)};
        }),
        gf, base.best_ms);
  }
  row("MLX dequantize + float32 matmul", time_it([&] {
        return std::vector<mx::array>{mx::matmul(x, mx::transpose(mx::dequantize(q[0], q[1], q[2], 64, 4)))};
      }),
      gf, base.best_ms);
  for (auto [mode, pack, mname] :
       {std::tuple{k::QuantizedMode::DequantizeOnce, false, "dequant once"},
        std::tuple{k::QuantizedMode::DequantizePerCall, false, "dequant per call, plain"},
        std::tuple{k::QuantizedMode::DequantizePerCall, true, "dequant per call, packed"}}) {
    k::FrozenLinearOptions o;
    o.compute_dtype = mx::bfloat16;
    o.pack = pack;
    const auto fw = k::make_frozen_linear_weight(q[0], q[1], q[2], 64, 4, o, mode);
    row(fmt::format("frozen bf16 {} ({:.1f} MB)", mname, static_cast<double>(fw->resident_bytes()) / 1e6),
        time_it([&] { return std::vector<mx::array>{k::frozen_linear(x, fw)}; }), gf, base.best_ms);
  }
}

void bench_ce(int N, int E, int V) {
  const mx::array h = randn({N, E}, 1.0f, 1), w = randn({V, E}, 0.02f, 2);
  const mx::array targets = mx::random::randint(0, V, {N}, mx::int32, mx::random::key(3));
  const mx::array mask =
      mx::astype(mx::greater(mx::random::uniform({N}, mx::random::key(4)), mx::array(0.3f)), mx::float32);
  mx::eval({targets, mask});
  const double fwd = 2.0 * N * E * V * 1e-9;
  auto loss_of = [&](const std::function<mx::array(const mx::array&)>& nll) {
    return [nll, &mask](const mx::array& a) { return mx::sum(mx::multiply(nll(a), mask)); };
  };
  auto mlx_nll = [&](const mx::array& a) {  // what mlxft does today: logits, then masked CE
    const mx::array z = mx::matmul(a, mx::transpose(w));
    const mx::array zt = mx::squeeze(mx::take_along_axis(z, mx::expand_dims(targets, -1), -1), -1);
    return mx::subtract(mx::logsumexp(z, -1), zt);
  };
  header(fmt::format("LM head + cross-entropy N={} E={} V={} (GFLOP/s of the forward matmul)", N, E, V),
         true);
  const Timing base = time_it([&] { return std::vector<mx::array>{loss_of(mlx_nll)(h)}; });
  row("forward  MLX float32 logits + logsumexp", base, fwd, base.best_ms, true);
  const Timing bbase = time_it([&] { return std::vector<mx::array>{mx::grad(loss_of(mlx_nll))(h)}; });
  std::vector<std::tuple<mx::Dtype, bool, std::string>> cases = {
      {mx::float32, true, "fused float32, grad in forward"},
      {mx::float32, false, "fused float32, recompute"},
      {mx::bfloat16, true, "fused bf16, grad in forward"},
      {mx::bfloat16, false, "fused bf16, recompute"}};
  for (const auto& [d, gif, name] : cases) {
    const auto head = frozen(w, d, false);
    k::FusedHeadCEOptions o;
    o.grad_in_forward = gif;
    auto fused = [&, o](const mx::array& a) { return k::fused_head_ce(a, head, targets, mask, o); };
    row("forward  " + name, time_it([&] { return std::vector<mx::array>{loss_of(fused)(h)}; }), fwd,
        base.best_ms, true);
  }
  row("fwd+bwd  MLX float32 logits + logsumexp", bbase, fwd, bbase.best_ms, true);
  for (const auto& [d, gif, name] : cases) {
    const auto head = frozen(w, d, false);
    k::FusedHeadCEOptions o;
    o.grad_in_forward = gif;
    auto fused = [&, o](const mx::array& a) { return k::fused_head_ce(a, head, targets, mask, o); };
    row("fwd+bwd  " + name, time_it([&] { return std::vector<mx::array>{mx::grad(loss_of(fused))(h)}; }), fwd,
        bbase.best_ms, true);
  }
}

// Decoding: M rows (1 = one token) times a 4-bit group-32 matrix [N, K]: MLX's quantized_matmul
// against quantized_rows_matmul. GFLOP/s counts 2 M N K.
void bench_decode(int M, int K, int N) {
  header(fmt::format("decode rows x 4-bit W: {} x {} x {}", M, K, N));
  auto q = mx::quantize(randn({N, K}, 0.05f, 7), 32, 4);
  mx::eval(q);
  const mx::array x = randn({M, K}, 1.0f, 8);
  const double gflop = 2.0 * M * K * N / 1e9;
  const Timing base = time_it([&] { return std::vector<mx::array>{mx::quantized_matmul(x, q[0], q[1], q[2], true, 32, 4)}; });
  row("MLX quantized_matmul", base, gflop, base.best_ms);
  const Timing ours = time_it([&] { return std::vector<mx::array>{k::quantized_rows_matmul(x, q[0], q[1], q[2], 32, 4)}; });
  row("kernels::quantized_rows_matmul", ours, gflop, base.best_ms);
}

// The attention before the fused kernel (kernels/self_attention.cpp's softmax_kernel_attention,
// MLXFT_ATTN_KERNEL=0).
mx::array softmax_kernel_attention(const mx::array& q, const mx::array& k, const mx::array& v, float scale) {
  const int B = q.shape(0), H = q.shape(1), T = q.shape(2), D = q.shape(3);
  const int K = k.shape(1), S = k.shape(2), G = H / K;
  const mx::array scores = mx::matmul(mx::reshape(q, {B, K, G * T, D}), mx::transpose(k, {0, 1, 3, 2}));
  const mx::array p = k::causal_softmax(mx::reshape(scores, {B, K, G, T, S}), scale);
  const mx::array o = mx::matmul(mx::astype(mx::reshape(p, {B, K, G * T, S}), v.dtype()), v);
  return mx::reshape(o, {B, H, T, D});
}

// bf16: also the bfloat16 inputs (MLX's CPU bf16 matmuls make the baselines take a minute at 7B shapes).
void bench_attention(int B, int H, int K, int T, int D, bool bf16) {
  header(fmt::format("causal attention B={} H={} K={} T={} D={}", B, H, K, T, D), true);
  const double fwd = 2.0 * B * H * T * static_cast<double>(T) * D * 1e-9;
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  using Attn = std::function<mx::array(const mx::array&, const mx::array&, const mx::array&)>;
  const std::vector<std::pair<std::string, Attn>> paths = {
      {"matmuls + causal_softmax",
       [&](auto& a, auto& b, auto& c) { return softmax_kernel_attention(a, b, c, scale); }},
      {"MLX sdpa causal",
       [&](auto& a, auto& b, auto& c) {
         return mx::fast::scaled_dot_product_attention(a, b, c, scale, "causal");
       }},
      {"kernels::causal_attention",
       [&](auto& a, auto& b, auto& c) { return k::causal_attention(a, b, c, scale); }},
      {"kernels::causal_attention, bf16 products",
       [&](auto& a, auto& b, auto& c) { return k::causal_attention(a, b, c, scale, std::nullopt, true); }}};
  const size_t first = g_kernel_only ? paths.size() - 2 : 0;
  for (mx::Dtype dt : {mx::float32, mx::bfloat16}) {
    if (dt == mx::bfloat16 && !bf16) continue;
    const std::string tn = dt == mx::float32 ? "f32 " : "bf16";
    const mx::array q = mx::astype(randn({B, H, T, D}, 1.0f, 11), dt), kk = mx::astype(randn({B, K, T, D}, 1.0f, 12), dt);
    const mx::array v = mx::astype(randn({B, K, T, D}, 1.0f, 13), dt), w = randn({B, H, T, D}, 1.0f, 14);
    mx::eval({q, kk, v});
    double base_f = 0, base_b = 0;
    const size_t end = dt == mx::bfloat16 ? paths.size() - 1 : paths.size();  // bf16 inputs: bf16 products
    for (size_t p = first; p < end; ++p) {
      const auto& [name, f] = paths[p];
      const Timing t = time_it([&, f = f] { return std::vector<mx::array>{f(q, kk, v)}; });
      if (base_f == 0) base_f = t.best_ms;
      row("forward  " + tn + " " + name, t, fwd, base_f, true);
    }
    for (size_t p = first; p < end; ++p) {
      const auto& [name, f] = paths[p];
      auto loss = [&, f = f](const std::vector<mx::array>& in) {
        return std::vector<mx::array>{mx::sum(mx::multiply(mx::astype(f(in[0], in[1], in[2]), mx::float32), w))};
      };
      const Timing t = time_it([&] { return mx::vjp(loss, {q, kk, v}, {mx::array(1.0f)}).second; });
      if (base_b == 0) base_b = t.best_ms;
      row("fwd+bwd  " + tn + " " + name, t, 3.5 * fwd, base_b, true);
    }
  }
}

void bench_rows(int B, int T, int E, int H) {
  header(fmt::format("rows B={} T={} E={} heads={}", B, T, E, H));
  const mx::array x = randn({B, T, E}, 1.0f, 21), w = randn({E}, 1.0f, 22), dy = randn({B, T, E}, 1.0f, 23);
  const mx::array dh = randn({B, H, T, E / H}, 1.0f, 24);
  std::vector<float> inv;
  for (int i = 0; i < E / H / 2; ++i) inv.push_back(std::pow(10000.0f, -2.0f * i / static_cast<float>(E / H)));
  using Fn = std::function<mx::array(const mx::array&)>;
  const auto pair = [&](const std::string& what, const Fn& mlx, const Fn& kernel, const mx::array& cot) {
    double base_f = 0, base_b = 0;
    for (const auto& [name, f] : {std::pair{"MLX", mlx}, std::pair{"kernel", kernel}}) {
      const Timing t = time_it([&, f = f] { return std::vector<mx::array>{f(x)}; });
      if (base_f == 0) base_f = t.best_ms;
      row("forward  " + what + " " + name, t, 0.0, base_f);
    }
    for (const auto& [name, f] : {std::pair{"MLX", mlx}, std::pair{"kernel", kernel}}) {
      const Timing t = time_it([&, f = f] { return std::vector<mx::array>{dx_of(x, cot, f)}; });
      if (base_b == 0) base_b = t.best_ms;
      row("x-grad   " + what + " " + name, t, 0.0, base_b);
    }
  };
  pair("rms_norm", [&](const mx::array& a) { return mx::fast::rms_norm(a, w, 1e-5f); },
       [&](const mx::array& a) { return k::rms_norm(a, w, 1e-5f); }, dy);
  pair("rope heads", [&](const mx::array& a) { return k::rope_heads_reference(a, H, inv, 0); },
       [&](const mx::array& a) { return k::rope_heads(a, H, inv, 0); }, dh);
}

// LoRA's branch y + s (x A^T) B^T on float32 or bfloat16 activations (a 4-bit or float32 base computing in
// bf16 keeps float32 activations; a bfloat16 base has bfloat16 ones), forward
// and forward + backward (x, A and B), beside the frozen bf16 projection of the same shape it rides on
// (GFLOP/s: the branch's own FLOPs). MLXFT_LORA_KERNEL=0 runs the branch's products as MLX matmuls.
void bench_lora(int M, int K, int N, int r, mx::Dtype act) {
  const mx::array x = mx::astype(randn({M, K}, 1.0f, 1), act), w = randn({N, K}, 0.02f, 2);
  const mx::array a = randn({r, K}, 0.02f, 4), b = randn({N, r}, 0.02f, 5);
  const mx::array dy = mx::astype(randn({M, N}, 1.0f, 3), act);
  const double gf = 2.0 * M * r * (K + N) * 1e-9;
  header(fmt::format("LoRA branch {}x{}x{}, rank {} (M x K x N), {} activations", M, K, N, r,
                     act == mx::bfloat16 ? "bf16" : "float32"));
  const auto fw = frozen(w, mx::bfloat16, false);
  const auto y = [&](const mx::array& in) { return k::frozen_linear(in, fw); };
  const Timing frozen_fwd = time_it([&] { return std::vector<mx::array>{y(x)}; });
  row("forward  frozen bf16 projection alone", frozen_fwd, 2.0 * M * K * N * 1e-9, frozen_fwd.best_ms);
  const Timing fwd = time_it([&] { return std::vector<mx::array>{mlxft::lora_add(y(x), x, a, b, 2.0f)}; });
  row("forward  projection + LoRA branch", fwd, gf, frozen_fwd.best_ms);
  // f's output and its first `grads` gradients (x, A, B), as a training step needs both
  const auto step = [&](const std::function<mx::array(const std::vector<mx::array>&)>& f, size_t grads) {
    auto [outs, all] = mx::vjp(
        [&](const std::vector<mx::array>& in) { return std::vector<mx::array>{f(in)}; }, {x, a, b}, {dy});
    all.resize(grads, all[0]);
    all.push_back(outs[0]);
    return all;
  };
  const auto frozen_only = [&](const std::vector<mx::array>& in) { return y(in[0]); };
  const auto with_lora = [&](const std::vector<mx::array>& in) {
    return mlxft::lora_add(y(in[0]), in[0], in[1], in[2], 2.0f);
  };
  const mx::array y0 = mx::astype(randn({M, N}, 1.0f, 7), act);
  const auto branch_only = [&](const std::vector<mx::array>& in) {
    return mlxft::lora_add(y0, in[0], in[1], in[2], 2.0f);
  };
  const Timing frozen_both = time_it([&] { return step(frozen_only, 1); });
  row("fwd+bwd  frozen bf16 projection alone (y, dx)", frozen_both, 4.0 * M * K * N * 1e-9, frozen_both.best_ms);
  row("fwd+bwd  projection + LoRA (y, dx, dA, dB)", time_it([&] { return step(with_lora, 3); }), 3 * gf,
      frozen_both.best_ms);
  // The branch alone on a given y: its forward and its three gradients.
  row("fwd+bwd  LoRA branch alone (out, dx, dA, dB)", time_it([&] { return step(branch_only, 3); }), 3 * gf,
      frozen_both.best_ms);
  // The kernels alone (kernels/low_rank.h), each against its MLX expression.
  const mx::array c = randn({M, r}, 1.0f, 6), bt = mx::contiguous(mx::transpose(b));
  const double one = 2.0 * M * r * K * 1e-9, one_n = 2.0 * M * r * N * 1e-9;
  const auto pair = [&](const std::string& name, double g, const std::function<mx::array()>& kernel,
                        const std::function<mx::array()>& reference) {
    const Timing ref = time_it([&] { return std::vector<mx::array>{reference()}; });
    row(name + " MLX", ref, g, ref.best_ms);
    row(name + " kernel", time_it([&] { return std::vector<mx::array>{kernel()}; }), g, ref.best_ms);
    return ref.best_ms;
  };
  const double down_ref = pair("down   s x A^T", one, [&] { return k::low_rank_down(x, a, 2.0f); },
       [&] { return k::low_rank_down_reference(x, a, 2.0f); });
  pair("up     y + c B^T", one_n, [&] { return k::low_rank_up(c, bt, dy, act); },
       [&] { return k::low_rank_up_reference(c, bt, dy, act); });
  const double outer_ref = pair("outer  c^T x", one, [&] { return k::low_rank_outer(c, x); },
                                [&] { return k::low_rank_outer_reference(c, x); });
  // As in a training step, where x was written long before (the layer's input, read again in the
  // backward pass) and comes from memory, not the cache: 24 copies of x (more than the L3 of the
  // machines here) taken in turn. "vs MLX": against MLX's expression on the cached x above.
  std::vector<mx::array> cold;
  for (int i = 0; i < 24; ++i) cold.push_back(mx::astype(randn({M, K}, 1.0f, 100 + i), act));
  mx::eval(cold);
  size_t turn = 0;
  const auto next = [&]() -> const mx::array& { return cold[turn++ % cold.size()]; };
  row("down   s x A^T kernel, x from memory",
      time_it([&] { return std::vector<mx::array>{k::low_rank_down(next(), a, 2.0f)}; }), one, down_ref);
  row("outer  c^T x kernel, x from memory",
      time_it([&] { return std::vector<mx::array>{k::low_rank_outer(c, next())}; }), one, outer_ref);
}

}  // namespace

int main(int argc, char** argv) {
  mlxft::fix_cpu_runtime_env(argv);  // as mlxft itself runs: OpenBLAS and OpenMP threads sleep when idle
  CLI::App app{"CPU kernels against MLX's ops"};
  std::string only;
  int threads = 0;
  app.add_option("--reps", g_reps, "timed runs per case");
  app.add_option("--only", only, "peak | linear | quant | decode | ce | attn | rows | lora");
  app.add_option("--threads", threads, "threads (0 = all cores)");
  app.add_flag("--kernel-only", g_kernel_only,
               "attention: time the fused kernel only, not the MLX baselines");
  CLI11_PARSE(app, argc, argv);
  mlxft::set_blas_threads(threads);
  if (threads > 0) k::set_kernel_threads(threads);
  mx::set_default_device(mx::Device::cpu);
  fmt::print("kernels_bench: isa {}, oneDNN {}, BLAS {}, {} kernel threads, {} reps\n",
             mlxft::to_string(mlxft::best_cpu_isa()), mlxft::have_onednn() ? "yes" : "no",
             mlxft::blas_description(), k::kernel_threads(), g_reps);
  if (only.empty() || only == "peak") {  // the denominators of MFU (bench/peak_flops.h)
    const int n = k::kernel_threads();
    fmt::print("\npeak, {} threads: fp32 AVX-512 FMA {:.0f} GFLOP/s, AVX512-BF16 dot {:.0f} GFLOP/s (0: not on this CPU)\n", n,
               mlxft::bench::measure_peak_gflops(mlxft::bench::PeakKind::kFp32, n),
               mlxft::bench::measure_peak_gflops(mlxft::bench::PeakKind::kBf16, n));
  }
  if (only.empty() || only == "linear") {
    bench_linear(1024, 576, 1536);
    bench_linear(1024, 768, 2048);
    bench_linear(1024, 4096, 4096);
  }
  if (only.empty() || only == "quant") {
    bench_quant(1024, 576, 1536, true);
    bench_quant(1024, 4096, 4096, false);
  }
  if (only.empty() || only == "decode") {
    bench_decode(1, 576, 1536);
    bench_decode(1, 4096, 14336);
    bench_decode(8, 4096, 4096);
  }
  if (only.empty() || only == "ce") {
    bench_ce(1024, 768, 32768);
    bench_ce(1024, 768, 49152);
  }
  if (only.empty() || only == "attn") {
    bench_attention(2, 12, 4, 512, 64, true);  // the small preset, batch 2
    bench_attention(2, 12, 4, 1024, 64, true);
    bench_attention(1, 32, 8, 2048, 128, false);  // Mistral-7B's heads, one row
  }
  if (only.empty() || only == "rows") {
    bench_rows(2, 1024, 768, 12);  // the small preset, batch 2
    bench_rows(1, 2048, 4096, 32);  // Mistral-7B's width, one row
  }
  if (only.empty() || only == "lora") {
    for (const mx::Dtype act : {mx::float32, mx::bfloat16}) {
      bench_lora(2048, 576, 576, 16, act);   // SmolLM2-135M, batch 4 x 512: q/o
      bench_lora(2048, 576, 1536, 16, act);  // gate/up
      bench_lora(2048, 1536, 576, 16, act);  // down
      bench_lora(2048, 576, 192, 16, act);   // k/v
    }
  }
  return 0;
}
