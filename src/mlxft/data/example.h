// The unit of training data after rendering, and a padded batch of them.
//
// Contract: ids are the full token sequence of one conversation (starting
// with <s>); mask has the same length and mask[t] = 1 means the model is
// trained to predict ids[t] from ids[0..t-1] (so mask[0] is always 0). A
// Batch holds the model inputs ids[0..T-2] and targets ids[1..T-1] with the
// loss mask mask[1..T-1], right-padded (pad targets are masked out).
// An Example loaded from a file keeps the Conversation it was rendered from
// (shared, read-only), for evaluations that generate turn by turn.
#pragma once

#include <mlx/mlx.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "mlxft/chat/conversation.h"

namespace mlxft {

struct Example {
  int64_t index = 0;          // 0-based line index in the input file
  std::optional<bool> label;  // true = desirable, false = undesirable, none = unlabeled
  std::vector<int32_t> ids;
  std::vector<uint8_t> mask;
  std::shared_ptr<const Conversation> conversation;  // null for examples not read from records
  int64_t trained_tokens() const {
    int64_t n = 0;
    for (auto m : mask) n += m;
    return n;
  }
};

struct Batch {
  mlx::core::array inputs{0};            // int32 [B, T]
  mlx::core::array targets{0};           // int32 [B, T]
  mlx::core::array mask{0};              // float32 [B, T], 1 where the target is trained
  int64_t trained_tokens = 0;            // sum of mask
  int64_t padded_tokens = 0;             // B * T
  std::vector<int64_t> example_indices;  // Example::index of each row
};

}  // namespace mlxft
