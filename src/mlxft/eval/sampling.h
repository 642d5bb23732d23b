// Choosing the next token from a logit vector.
//
// Contract: temperature <= 0 is greedy (argmax; ties go to the lowest id).
// Otherwise the logits are divided by the temperature and one token is drawn
// from the smallest set of most likely tokens whose probability mass reaches
// top_p (top_p >= 1: the whole vocabulary), using the given mx::random key, so
// the same key gives the same token.
#pragma once

#include <mlx/mlx.h>

#include <cstdint>

namespace mlxft {

struct SamplingOptions {
  float temperature = 0.0f;
  float top_p = 1.0f;
};

// logits: float32 [V]. Returns the chosen id as an int32 scalar array (lazy).
mlx::core::array sample_token(const mlx::core::array& logits, const SamplingOptions& options,
                              const mlx::core::array& key);

}  // namespace mlxft
