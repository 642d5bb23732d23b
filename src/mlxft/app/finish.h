// The two ends of a train run that do not train: evaluation only, and the finish.
//
// Contract:
// - run_eval_only() prints the validation loss of the base model plus the adapters (those given,
//   or the checkpoint --resume names: CheckpointStore::resolve); no validation example or no valid
//   checkpoint is an error. It never writes into the output directory.
// - finish_run() writes what output.export asks into <out>/final_model/ (final_exports.h), builds
//   the report (a failure there is a warning), evaluates the test split when there is one, and
//   prints the closing lines. Returns the exit status 0.
#pragma once

#include "mlxft/app/run_parts.h"

namespace mlxft {

int run_eval_only(const TrainRun& run, LoraAdapters adapters);
int finish_run(const TrainRun& run, LoraAdapters adapters, const std::vector<mlx::core::array>& params,
               const TrainOutcome& outcome);

// Adapter parameter names in flatten() order: "<module>.lora_A", "<module>.lora_B".
std::vector<std::string> parameter_names(const LoraAdapters& adapters);

}  // namespace mlxft
