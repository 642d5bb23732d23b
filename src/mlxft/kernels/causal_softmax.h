// The causally masked, scaled softmax of attention scores, with its gradient, as CPU kernels.
//
// Contract: scores [..., T, S] (any float dtype; computed in float32), scale > 0. Returns float32 P of
// the same shape with, for query row t (0-based among the T rows) and key column s,
//   P[t, s] = softmax_s(scale * scores[t, :t + S - T + 1])[s]   for s <= t + S - T, else 0
// (the last query sees every key: T new tokens after S - T cached ones, as MLX's "causal" mask).
// S >= T is required. Its gradient with respect to scores is scale * P * (dP - sum_s dP P) per row.
// On a CPU stream the forward and the backward are one multithreaded pass each over the rows
// (kernels/row_math.h: AVX-512 where the CPU has it), where MLX's own CPU softmax is scalar and
// single-threaded. Where cpu_kernels_run_on() is false (switches.h: GPU, MLXFT_KERNELS=0) it is MLX
// ops: causal_softmax_reference().
#pragma once

#include <mlx/mlx.h>

namespace mlxft::kernels {

namespace mx = mlx::core;

mx::array causal_softmax(const mx::array& scores, float scale, mx::StreamOrDevice s = {});

// The same quantity with MLX ops: the GPU path and the tests' reference.
mx::array causal_softmax_reference(const mx::array& scores, float scale, mx::StreamOrDevice s = {});

}  // namespace mlxft::kernels
