// The trainer's settings from a recipe: the one place where recipe keys become TrainerSettings.
//
// Contract:
// - trainer_settings_from(recipe, n) copies every training, output, evaluation and advanced key the
//   trainer reads (batch size, accumulation, epochs, max_steps, seed, optimizer, schedule, warmup,
//   clipping, logging/eval/save cadence, checkpoint retention, early stopping, health limits).
// - n is the number of training examples after the split; output_dir, the metrics file name and
//   the effective config text (stored in every checkpoint) come from the recipe too.
// - apply_system_settings() makes the system keys real: system.threads sets the BLAS threads unless
//   the --threads flag gave a number (> 0); system.memory_limit_gb > 0 becomes MLX's memory limit
//   (mx::set_memory_limit), the same number the memory check uses as its budget. It returns what
//   it set (0: left alone).
#pragma once

#include <cstddef>
#include <cstdint>

#include "mlxft/config/recipe.h"
#include "mlxft/train/trainer.h"

namespace mlxft {

TrainerSettings trainer_settings_from(const Recipe& recipe, int64_t num_train_examples);

struct SystemApplied {
  int blas_threads = 0;
  size_t memory_limit_bytes = 0;
};
SystemApplied apply_system_settings(const SystemSection& system, int threads_flag);

}  // namespace mlxft
