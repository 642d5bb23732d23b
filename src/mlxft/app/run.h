// `mlxft train` end to end: recipe -> data -> model + LoRA -> objective -> Trainer -> adapters and
// report on disk. The application layer: no library folder includes app/.
//
// Contract:
// - run_training() applies the recipe's system keys (system.device unless the --device flag was given,
//   before anything is loaded; system.threads unless the --threads flag was given,
//   system.memory_limit_gb as MLX's memory limit), then, for a training run, locks and
//   prepares the output directory and sets up logging first (console and <out>/logging.log_file;
//   --debug overrides logging.level), so the log has the data warnings and the memory advice.
// - Data parallel (train/distributed.h): joins the group a launcher started (system.distributed);
//   training.batch_size is the global micro-batch and must be a multiple of the world size, with as
//   many rows per rank as the objective needs (objective/make_objective.h; kto: 2). Only rank
//   0 locks and prepares the output directory, writes the log file, the summary, the exports and the
//   report; the other ranks log warnings and errors and end with status 0 after training. A rank
//   stopped because another rank got a signal exits with 143.
// - Then the phases, each in its own file: inputs.h (tokenizer, data split, model, adapters),
//   settings.h (TrainerSettings and model.pack_weights from the recipe), summary.h (what is about
//   to run, memory check), hooks.h (the trainer hooks), finish.h (eval-only, exports, report, test
//   evaluation).
// - A non-empty output_dir is refused unless output.overwrite_output_dir or a resume. With
//   eval_only it only reports the validation loss of the base model plus the adapter
//   (--init-adapter, else the resumed checkpoint) and writes nothing.
// - Returns the exit status: 0 when done, 128 + signal (130 SIGINT, 143 SIGTERM) when a signal
//   stopped the run after writing a checkpoint.
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
  bool debug = false;  // the global --debug flag: logging at debug whatever logging.level says
  int threads = 0;     // the global --threads flag; 0 = not given (system.threads applies)
  std::string device;  // the global --device flag; "" = not given (system.device applies)
};

int run_training(const TrainRequest& request);

}  // namespace mlxft
