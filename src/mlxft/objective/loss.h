// Masked token cross-entropy for causal language-model training.
//
// Contract: masked_cross_entropy() returns the *sum* of the per-token negative
// log-likelihoods over positions where mask = 1 and the number of such
// positions, both float32 scalars (lazy mx::arrays). Callers divide the sum of
// nll_sum over all micro-batches of an optimizer step by the sum of tokens, so
// gradient accumulation weighs every trained token equally. Logits may be any
// float dtype; the log-softmax is computed in float32. With label smoothing e
// the per-token loss is (1 - e) * nll + e * mean_v(-log p_v) (PyTorch's
// definition). Shapes are checked: a mismatch is a Training error.
// fused_masked_cross_entropy() is the same LossSum from the final hidden states h [B,T,E] and the
// LM head as a CPU kernel weight (kernels/fused_head_ce.h): the [B,T,V] logits are never
// materialised; its gradient flows to h. Same checks.
#pragma once

#include <mlx/mlx.h>

#include "mlxft/kernels/frozen_linear.h"

namespace mlxft {

namespace mx = mlx::core;

// Sum of token cross-entropies over trained positions and their count (float32 scalars), so that
// accumulation can divide the sum over all micro-batches by the total count.
struct LossSum {
  mx::array nll_sum;
  mx::array tokens;
};

LossSum masked_cross_entropy(const mx::array& logits /*[B,T,V]*/, const mx::array& targets /*[B,T]*/,
                             const mx::array& mask /*[B,T] float*/, float label_smoothing = 0.0f);

LossSum fused_masked_cross_entropy(const mx::array& hidden /*[B,T,E]*/,
                                   const kernels::FrozenLinearWeightPtr& head,
                                   const mx::array& targets /*[B,T]*/, const mx::array& mask /*[B,T] float*/,
                                   float label_smoothing = 0.0f, bool training = true);

}  // namespace mlxft
