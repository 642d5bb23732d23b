#include "mlxft/train/schedule.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "mlxft/util/error.h"

namespace mlxft {

void validate_schedule(const LrSchedule& s) {
  if (s.kind != "cosine" && s.kind != "linear" && s.kind != "constant") {
    throw Error(ErrorKind::Config, "training.lr_scheduler", fmt::format("unknown schedule '{}'", s.kind),
                "use cosine, linear or constant");
  }
  if (s.warmup_steps < 0) {
    throw Error(ErrorKind::Config, "training.warmup_steps", "must not be negative");
  }
  if (s.total_steps < 1) {
    throw Error(ErrorKind::Config, "training.max_steps", "the run has no optimizer step",
                "check num_epochs, max_steps, batch_size and the dataset size");
  }
  if (s.min_lr_ratio < 0.0 || s.min_lr_ratio > 1.0) {
    throw Error(ErrorKind::Config, "training.min_lr_ratio", "must be within [0, 1]");
  }
}

double LrSchedule::lr_at(int64_t update) const {
  const int64_t k = std::clamp<int64_t>(update, 1, std::max<int64_t>(total_steps, 1));
  if (k <= warmup_steps) return learning_rate * static_cast<double>(k) / static_cast<double>(warmup_steps);
  if (kind == "constant") return learning_rate;
  const int64_t decay_steps = total_steps - warmup_steps;
  const double p =
      decay_steps <= 0 ? 1.0 : static_cast<double>(k - warmup_steps) / static_cast<double>(decay_steps);
  const double min_lr = min_lr_ratio * learning_rate;
  if (kind == "linear") return learning_rate - (learning_rate - min_lr) * p;
  return min_lr + (learning_rate - min_lr) * 0.5 * (1.0 + std::cos(std::numbers::pi * p));
}

}  // namespace mlxft
