// Learning-rate schedules over optimizer steps.
//
// Contract: lr_at(k) is the learning rate applied by optimizer update k, counted from 1 to
// total_steps. Warmup rises linearly from 0: update k <= warmup uses lr * k / warmup, so the last
// warmup update uses exactly lr. After warmup, with progress p = (k - warmup) / (total - warmup):
// cosine gives min + (lr - min) * (1 + cos(pi p)) / 2, linear gives lr - (lr - min) * p, constant
// gives lr, where min = min_lr_ratio * lr; so decay ends at min on the last update. Steps past
// total stay at the last value. Invalid settings (unknown kind, negative counts) are Config errors.
#pragma once

#include <cstdint>
#include <string>

namespace mlxft {

struct LrSchedule {
  std::string kind = "cosine";  // cosine | linear | constant
  double learning_rate = 2e-4;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;
  double min_lr_ratio = 0.1;

  double lr_at(int64_t update) const;
};

// Checks the fields; throws Config error naming training.<key>.
void validate_schedule(const LrSchedule& schedule);

}  // namespace mlxft
