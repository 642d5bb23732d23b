// Fused causal attention (FlashAttention-2 style) with its gradient, as CPU kernels.
//
// Contract: q [B, H, T, D], k and v [B, K, S, D] with H a multiple of K (query head h reads KV head
// h / (H / K)), S >= T, one float dtype; scale > 0; key_bias (optional) holds B * S float values, [B, S]
// or [B, 1, 1, 1, S], added to the scaled scores of batch row b's key s (padding_bias() in llama.cpp).
// Returns o [B, H, T, D] in q's dtype with
//   o[b, h, t] = sum_s P[t, s] v[b, h / G, s],   P[t, :] = softmax_s(scale q_t . k_s + key_bias[b, s])
// over the keys s <= t + S - T (MLX's "causal" mask: T new tokens after S - T cached ones).
// Gradients flow to q, k and v (not to key_bias).
//
// On a CPU stream the forward walks key blocks with an online softmax and skips the blocks above the
// causal diagonal: no [T, S] array is ever made, only per-thread 64 x 64 blocks (beside operands packed
// once a call for the block products, attention_blocks.h's Packing: K^T and V of each KV head for the
// forward, [B, K, S, D] each, half that in bfloat16 pairs; q, dO and their transposes of one KV head's
// query heads per backward thread, 4 x [H / K, T, D], with float32 staging and dQ^T of the same size);
// it keeps the rows' log-sum-exp [B, H, T] (float32) as a second output, from which the backward
// recomputes P block by block (dV = P^T dO, dP = dO V^T, dS = P (dP - rowsum(dO o)), dQ^T = scale K^T dS^T,
// dK = scale dS^T Q, dK and dV summed over a KV head's query heads). The block products multiply bfloat16
// values (vdpbf16ps on AVX512-BF16) when the inputs are bfloat16 or bf16_products is set (model.compute_dtype
// bfloat16 with float32 activations), the probabilities and score gradients rounded to bfloat16 as well, else
// float32 values; all sums are float32. Threads: the forward splits (batch, head, query block), the backward
// (batch, KV head). AVX-512 where the CPU has it, portable loops elsewhere (kernels/attention_blocks.h).
// Where cpu_kernels_run_on() is false (switches.h: GPU, MLXFT_KERNELS=0) it is MLX ops:
// causal_attention_reference(). The model calls self_attention.h, which picks this kernel.
#pragma once

#include <mlx/mlx.h>

#include <optional>

namespace mlxft::kernels {

namespace mx = mlx::core;

mx::array causal_attention(const mx::array& q, const mx::array& k, const mx::array& v, float scale,
                           const std::optional<mx::array>& key_bias = {}, bool bf16_products = false,
                           mx::StreamOrDevice s = {});

// The same quantity with MLX ops (float32 scores, explicit mask and softmax): the GPU path and the tests'
// reference.
mx::array causal_attention_reference(const mx::array& q, const mx::array& k, const mx::array& v, float scale,
                                     const std::optional<mx::array>& key_bias = {}, mx::StreamOrDevice s = {});

}  // namespace mlxft::kernels
