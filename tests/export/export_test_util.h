// Helpers shared by the fuse and GGUF export tests: the token ids they compare logits on, LoRA
// forward options, the largest absolute difference.
#pragma once

#include <mlx/mlx.h>

#include "mlxft/model/llama.h"

namespace mlxft::export_test {

namespace mx = mlx::core;

inline const mx::array kIds = mx::array({1, 17, 300, 9, 41, 5, 2000, 77}, {1, 8}, mx::int32);

inline ForwardOptions with(const LoraAdapters& lora) {
  ForwardOptions o;
  o.lora = &lora;
  return o;
}

inline float max_diff(const mx::array& a, const mx::array& b) {
  return mx::max(mx::abs(a - b)).item<float>();
}

}  // namespace mlxft::export_test
