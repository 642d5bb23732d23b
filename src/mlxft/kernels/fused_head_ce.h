// The LM head and the token cross-entropy fused, never materialising the [N, V] float32 logits.
//
// Contract: h [..., E] float32 or bfloat16 (the final-norm hidden states), head W [V, E] frozen
// (a FrozenLinearWeight: float32, bfloat16 or quantized), targets [...] integer in [0, V), mask [...]
// (nonzero = trained). Returns nll [...] float32 with, for a trained position i and z = h_i W^T,
//   nll_i = (1 - e) (logsumexp(z) - z[t_i]) + e (logsumexp(z) - mean_v z[v])     (e: label smoothing)
// and nll_i = 0 where mask_i == 0 (those rows are skipped: no matmul, no gradient). Its gradient
// with respect to h is dh_i = g_i (softmax(z) - (1 - e) onehot(t_i) - e / V) W; W gets none.
// The CPU kernel (oneDNN builds) walks the trained rows in chunks of `chunk_rows`: per chunk one
// [C, V] float32 logit block, the row statistics on kernel_threads() threads, and, when the
// gradient is wanted, the softmax gradient (in the compute dtype) times W, so the transient memory is
// about C x V x 6 bytes whatever N is. grad_in_forward (Liger's choice) computes dh with
// g = 1 during the forward and keeps it ([N, E] float32) for the backward, which only scales it:
// 3 matmul passes per step instead of 4 (recompute), at the cost of a gradient pass when only
// the loss is wanted (evaluation: set it false). The kernel runs where cpu_kernels_run_on() the stream
// (switches.h) and the head uses oneDNN; elsewhere fused_head_ce() is head_ce_reference().
// token_cross_entropy(): the same nll from float logits z [..., V] with MLX ops (computed in float32).
// head_token_nll() is the op that picks, for callers that hold the model's own head too: fused_head_ce()
// where its kernel runs (head set), else token_cross_entropy(plain_logits(h)), the model's full logits.
#pragma once

#include <functional>

#include "mlxft/kernels/frozen_linear.h"

namespace mlxft::kernels {

struct FusedHeadCEOptions {
  int chunk_rows = 256;
  float label_smoothing = 0.0f;
  bool grad_in_forward = true;
};

mx::array fused_head_ce(const mx::array& h, const FrozenLinearWeightPtr& head, const mx::array& targets,
                        const mx::array& mask, const FusedHeadCEOptions& options = {},
                        mx::StreamOrDevice s = {});

using HeadLogits = std::function<mx::array(const mx::array& h)>;
mx::array head_token_nll(const mx::array& h, const FrozenLinearWeightPtr& head,
                         const HeadLogits& plain_logits, const mx::array& targets, const mx::array& mask,
                         const FusedHeadCEOptions& options = {}, mx::StreamOrDevice s = {});

mx::array token_cross_entropy(const mx::array& logits, const mx::array& targets, const mx::array& mask,
                              float label_smoothing = 0.0f, mx::StreamOrDevice s = {});

// The same quantity with MLX ops (the full logits): the fallback and the tests' reference.
mx::array head_ce_reference(const mx::array& h, const FrozenLinearWeightPtr& head, const mx::array& targets,
                            const mx::array& mask, float label_smoothing = 0.0f, mx::StreamOrDevice s = {});

}  // namespace mlxft::kernels
