#include "mlxft/config/recipe.h"

#include <cmath>

namespace mlxft {

int64_t warmup_steps_for(int64_t warmup_steps, double warmup_ratio, int64_t total_steps) {
  if (warmup_ratio > 0.0) return static_cast<int64_t>(std::ceil(warmup_ratio * static_cast<double>(total_steps)));
  return warmup_steps;
}

int64_t warmup_steps_for(const TrainingSection& training, int64_t total_steps) {
  return warmup_steps_for(training.warmup_steps, training.warmup_ratio, total_steps);
}

}  // namespace mlxft
