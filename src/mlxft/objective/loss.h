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
// token_nll() is the one per-token loss of SFT, KTO and evaluation: from the model's final hidden
// states [B,T,E] and a batch, the nll [B,T] float32 of each target token (label smoothing as above;
// 0 where the mask is 0) through kernels::head_token_nll, which fuses the LM head and the
// cross-entropy (no [B,T,V] logits) where its CPU kernel runs and takes the model's full logits
// elsewhere. training = false (evaluation, reference models) skips the fused kernel's gradient pass.
// masked_sum(nll, mask) is the LossSum of such per-token values.
#pragma once

#include <mlx/mlx.h>

#include "mlxft/data/example.h"
#include "mlxft/model/llama.h"

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

struct TokenNllOptions {
  float label_smoothing = 0.0f;
  bool training = true;
};

mx::array token_nll(const Model& model, const mx::array& hidden /*[B,T,E]*/, const Batch& batch,
                    const TokenNllOptions& options = {});
LossSum masked_sum(const mx::array& nll /*[B,T]*/, const mx::array& mask /*[B,T]*/);

}  // namespace mlxft
