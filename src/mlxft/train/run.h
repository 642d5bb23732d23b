// `mlxft train` end to end: recipe -> data -> model + LoRA -> Trainer -> adapters on disk.
//
// Contract: run_training() loads the tokenizer (the model directory's tokenizer.model), the
// dataset (with data.valid_path, or split by data.valid_split / test_split and data.seed), the base
// model in model.dtype, and the adapters (new ones initialised as PEFT does from training.seed, or
// --init-adapter in PEFT or mlx-lm format). It prints a summary (model, parameters
// total/trainable/percent, data counts, steps per epoch and in all, and the peak-memory estimate
// by part against the machine's memory; a run that cannot fit stops with a Memory error unless
// system.force), writes <output_dir>/effective_config.yaml, trains (see trainer.h; length-grouped
// batches from data/batching.h; validation loss token-weighted over the whole validation set;
// samples from validation prompts to samples.jsonl when evaluation.generate_samples), and writes
// the final adapters to <output_dir>/final_model/peft/ and final_model/mlx/. An existing
// non-empty output_dir is refused unless output.overwrite_output_dir or a resume. With eval_only it
// only reports the validation loss of the base model plus the adapter (--init-adapter, else the
// resumed checkpoint). Returns the exit status: 0 when done, 128 + signal (130 SIGINT, 143 SIGTERM)
// when a signal stopped the run after writing a checkpoint.
#pragma once

#include <string>

#include "mlxft/config/recipe.h"

namespace mlxft {

struct TrainRequest {
  Recipe recipe;
  std::string recipe_path;   // as given on the command line, for the resume hint
  std::string init_adapter;  // "" = new adapters
  std::string resume;        // "" = fresh, "latest" or a checkpoint directory
  bool eval_only = false;
};

int run_training(const TrainRequest& request);

}  // namespace mlxft
