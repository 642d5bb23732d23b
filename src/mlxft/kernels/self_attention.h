// Causal self-attention over grouped KV heads: the op that picks the CPU kernels or MLX's attention.
//
// Contract: q [B, H, T, D], k and v [B, K, S, D] with H a multiple of K (query head h reads KV head
// h / (H / K)), S >= T: the T queries are the last T of S positions (S - T cached before them).
// left_pad (empty, or B entries): row b's first left_pad[b] keys are padding, which no real query sees.
// Returns o [B, H, T, D] in q's dtype with
//   o[b, h, t] = sum_s softmax_s(scale q_t . k_s) v[b, h / G, s]   over the visible keys s
// (s <= t + S - T, and s >= left_pad[b] for a real query; a padding query sees at least itself, so no
// row is empty; its output is of no use). Gradients flow to q, k and v.
// window > 0 (sliding-window layers, Gemma 3): query at position p sees only keys s > p - window; when
// some key falls outside a window (S > window) it runs as MLX's attention with that boolean mask
// (no CPU kernel), otherwise as below.
// Where cpu_kernels_run_on() the stream (switches.h) and there is something to mask (T > 1 or padded
// rows): the fused kernel (causal_attention.h; its block products in bfloat16 when bf16_products), or
// with MLXFT_ATTN_KERNEL=0 two MLX matmuls around the causal_softmax kernel; padding enters as a -1e30
// bias on the padding keys. Everywhere else MLX's fast::scaled_dot_product_attention: "causal" for
// T > 1, no mask for one new token, a boolean [B, 1, T, S] mask for padded rows.
#pragma once

#include <mlx/mlx.h>

#include <vector>

namespace mlxft::kernels {

namespace mx = mlx::core;

mx::array self_attention(const mx::array& q, const mx::array& k, const mx::array& v, float scale,
                         const std::vector<int>& left_pad = {}, bool bf16_products = false, int window = 0,
                         mx::StreamOrDevice s = {});

}  // namespace mlxft::kernels
