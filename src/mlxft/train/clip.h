// Global-norm gradient clipping.
//
// Contract: global_norm() is sqrt(sum over arrays of sum(g^2)) as a float32 scalar (lazy).
// clip_by_global_norm() scales every gradient by min(1, max_norm / (norm + 1e-6)) (PyTorch's
// clip_grad_norm_ rule) and returns the clipped gradients with the norm *before* clipping;
// max_norm <= 0 disables clipping (the norm is still returned, for logging).
#pragma once

#include <mlx/mlx.h>

#include <vector>

namespace mlxft {

namespace mx = mlx::core;

mx::array global_norm(const std::vector<mx::array>& grads);

struct ClipResult {
  std::vector<mx::array> grads;
  mx::array norm;
};
ClipResult clip_by_global_norm(const std::vector<mx::array>& grads, double max_norm);

}  // namespace mlxft
