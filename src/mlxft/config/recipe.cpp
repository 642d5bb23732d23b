#include "mlxft/config/recipe.h"

#include <cmath>

namespace mlxft {

int64_t warmup_steps_for(const TrainingSection& training, int64_t total_steps) {
  if (training.warmup_ratio > 0.0) {
    return static_cast<int64_t>(std::ceil(training.warmup_ratio * static_cast<double>(total_steps)));
  }
  return training.warmup_steps;
}

}  // namespace mlxft
