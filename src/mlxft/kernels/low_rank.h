// The three products of a low-rank (LoRA) branch as CPU kernels: one rank-r side is tiny, so BLAS
// runs them far below the machine's speed (OpenBLAS reached 10-18 GFLOP/s on SmolLM2's shapes,
// after converting the bfloat16 activations to float32 copies).
//
// Contract (r is the rank; x is [M, K] float32 or bfloat16; c is [M, r] float32; s is float32):
//   low_rank_down(x, s, scale)       = scale * x s^T                      s [r, K] -> [M, r] float32
//   low_rank_up(c, s, y, dtype)      = y + c s (y optional, [M, N])       s [r, N] -> [M, N] in dtype
//   low_rank_outer(c, x)             = c^T x                                        -> [r, K] float32
// Everything is computed in float32 (bfloat16 inputs widened exactly, a bfloat16 result rounded to
// nearest even once). Each output element is summed by one thread in a fixed order, so results do not
// depend on the thread count. Arrays of any layout are made contiguous first.
// low_rank_kernels_run_on(s, x dtype): the kernels run (a CPU stream where low_rank_kernels_switched_on(),
// switches.h, an AVX-512 CPU, float32 or bfloat16 x); otherwise each op is the MLX expression above
// (its reference).
// The ops have no gradient of their own: LoRA's branch (model/lora_branch) composes them in both
// directions.
#pragma once

#include <mlx/mlx.h>

#include <optional>

namespace mlxft::kernels {

namespace mx = mlx::core;

bool low_rank_kernels_run_on(const mx::Stream& s, mx::Dtype x_dtype);

mx::array low_rank_down(const mx::array& x, const mx::array& s, float scale, mx::StreamOrDevice st = {});
mx::array low_rank_up(const mx::array& c, const mx::array& s, const std::optional<mx::array>& y, mx::Dtype dtype,
                      mx::StreamOrDevice st = {});
mx::array low_rank_outer(const mx::array& c, const mx::array& x, mx::StreamOrDevice st = {});

// The MLX expressions (the fallback and the tests' reference).
mx::array low_rank_down_reference(const mx::array& x, const mx::array& s, float scale, mx::StreamOrDevice st = {});
mx::array low_rank_up_reference(const mx::array& c, const mx::array& s, const std::optional<mx::array>& y,
                                mx::Dtype dtype, mx::StreamOrDevice st = {});
mx::array low_rank_outer_reference(const mx::array& c, const mx::array& x, mx::StreamOrDevice st = {});

}  // namespace mlxft::kernels
