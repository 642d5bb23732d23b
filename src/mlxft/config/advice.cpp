#include "mlxft/config/advice.h"

#include <fmt/format.h>

#include <algorithm>

#include "mlxft/util/error.h"

namespace mlxft {

std::vector<std::string> recipe_warnings(const Recipe& recipe, int64_t total_optimizer_steps) {
  std::vector<std::string> warnings;
  const TrainingSection& t = recipe.training;
  const int64_t warmup = warmup_steps_for(t, total_optimizer_steps);
  if (total_optimizer_steps > 0 && warmup * 5 > total_optimizer_steps) {
    warnings.push_back(fmt::format(
        "training.warmup_steps: warmup is {} of {} optimizer steps ({:.0f} %); over 20 % leaves little "
        "time at the peak learning rate (lower warmup_steps or use warmup_ratio, e.g. 0.1)",
        warmup, total_optimizer_steps,
        100.0 * static_cast<double>(warmup) / static_cast<double>(total_optimizer_steps)));
  }
  if (t.optimizer == "adamw" && t.learning_rate > 1e-3) {
    warnings.push_back(fmt::format(
        "training.learning_rate: {} is high for AdamW with LoRA (usually 1e-5 to 5e-4); expect unstable loss",
        t.learning_rate));
  }
  const int effective_batch = t.batch_size * t.gradient_accumulation_steps;
  if (effective_batch < 4) {
    warnings.push_back(fmt::format(
        "training.batch_size x gradient_accumulation_steps is {}; an effective batch under 4 gives noisy "
        "gradients (raise gradient_accumulation_steps)",
        effective_batch));
  }
  const DataSection& d = recipe.data;
  if (d.valid_path.empty() && d.valid_split <= 0.0) {
    warnings.push_back(
        "data.valid_split is 0 and data.valid_path is not set: no validation loss, no best "
        "checkpoint");
  }
  return warnings;
}

namespace {

struct Budget {
  double gb = 0.0;
  const char* name = "";
};

Budget smallest_budget(const Recipe& recipe, double machine_memory_gb, double address_space_gb) {
  Budget b{machine_memory_gb, "the machine's memory"};
  const auto consider = [&b](double gb, const char* name) {
    if (gb > 0.0 && (b.gb <= 0.0 || gb < b.gb)) b = {gb, name};
  };
  consider(recipe.system.memory_limit_gb, "system.memory_limit_gb");
  consider(address_space_gb, "what the address-space limit (ulimit -v) leaves for the run");
  return b;
}

}  // namespace

double memory_budget_gb(const Recipe& recipe, double machine_memory_gb, double address_space_gb) {
  return smallest_budget(recipe, machine_memory_gb, address_space_gb).gb;
}

std::optional<std::string> check_memory_fit(const Recipe& recipe, double estimated_peak_gb,
                                            double machine_memory_gb, double address_space_gb) {
  const Budget b = smallest_budget(recipe, machine_memory_gb, address_space_gb);
  const double budget = b.gb;
  if (budget <= 0.0) return std::nullopt;
  const std::string numbers = fmt::format("estimated peak memory {:.1f} GB, budget {:.1f} GB ({})",
                                          estimated_peak_gb, budget, b.name);
  if (estimated_peak_gb > budget) {
    if (!recipe.system.force) {
      throw Error(
          ErrorKind::Memory, "recipe", numbers + ": the run would not fit",
          std::string("lower training.batch_size or data.max_seq_length, set training.gradient_checkpointing: "
                      "true, use a 4-bit base (model.quantize), ") +
              (b.gb == address_space_gb   ? "raise the limit (ulimit -v), "
               : b.gb == recipe.system.memory_limit_gb ? "raise system.memory_limit_gb, "
                                                        : "") +
              "or set system.force: true to start anyway");
    }
    return numbers + ": over budget, starting anyway because system.force is set";
  }
  if (estimated_peak_gb > recipe.advanced.memory_warning_fraction * budget) {
    return numbers + ": close to the limit; the system may swap";
  }
  return std::nullopt;
}

}  // namespace mlxft
