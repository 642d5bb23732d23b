// What the phases of a train run share (app/ only): the recipe, the inputs, the model.
#pragma once

#include <filesystem>

#include "mlxft/app/inputs.h"
#include "mlxft/app/run.h"
#include "mlxft/train/distributed.h"
#include "mlxft/train/trainer.h"

namespace mlxft {

struct TrainRun {
  const TrainRequest& request;
  const Recipe& recipe;
  std::filesystem::path out;  // output.output_dir
  const RunInputs& inputs;
  const Model& model;
  const TrainerSettings& settings;
  const DistributedGroup& group;  // a group of one unless launched data-parallel
  int eval_batch_size() const { return std::max(1, recipe.evaluation.eval_batch_size); }
};

}  // namespace mlxft
