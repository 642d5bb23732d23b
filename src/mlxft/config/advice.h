// Advice on a valid recipe: warnings the caller logs once at start, and the memory-fit check.
//
// Contract: recipe_warnings() returns one line per suspicious setting (warmup over 20 % of the
// run, learning rate above 1e-3 with AdamW, effective batch under 4, splits that leave valid empty
// while evaluation is on); it never throws. check_memory_fit() compares the caller's estimate of
// peak memory with the budget (the smallest of the machine's memory, system.memory_limit_gb and the
// room an address-space limit leaves for MLX's data, `address_space_gb`, 0 when there is none): over
// the budget it throws a Memory error unless system.force is set, in which case it returns a warning;
// near the budget (advanced.memory_warning_fraction) it returns a warning; otherwise nothing. Either
// way the message names which of the three is the budget.
// memory_budget_gb() is that budget (0: unknown), the one rule both the check and model.pack_weights
// (app/settings.h) use.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mlxft/config/recipe.h"

namespace mlxft {

std::vector<std::string> recipe_warnings(const Recipe& recipe, int64_t total_optimizer_steps);

double memory_budget_gb(const Recipe& recipe, double machine_memory_gb, double address_space_gb = 0.0);

std::optional<std::string> check_memory_fit(const Recipe& recipe, double estimated_peak_gb,
                                            double machine_memory_gb, double address_space_gb = 0.0);

}  // namespace mlxft
