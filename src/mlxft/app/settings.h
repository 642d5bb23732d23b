// The trainer's settings from a recipe: the one place where recipe keys become TrainerSettings.
//
// Contract:
// - trainer_settings_from(recipe, n) copies every training, output, evaluation and advanced key the
//   trainer reads (batch size, accumulation, epochs, max_steps, seed, optimizer, schedule, warmup,
//   clipping, logging/eval/save cadence, checkpoint retention, early stopping, health limits).
// - n is the number of training examples after the split; output_dir, the metrics file name and
//   the effective config text (stored in every checkpoint) come from the recipe too.
#pragma once

#include <cstdint>

#include "mlxft/config/recipe.h"
#include "mlxft/train/trainer.h"

namespace mlxft {

TrainerSettings trainer_settings_from(const Recipe& recipe, int64_t num_train_examples);

}  // namespace mlxft
