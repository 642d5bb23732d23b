// The output directory of a train run: one run at a time, and no silent overwrite.
//
// Contract:
// - lock_output_dir() creates the directory and holds an exclusive lock on <out>/.lock for the
//   rest of the process (the kernel drops it when the process ends, kill -9 included); a second run
//   on the same directory is a Training error.
// - prepare_output_dir() refuses a non-empty directory (the lock file aside) unless resuming or
//   output.overwrite_output_dir; with overwrite it removes checkpoints/, final_model/ and
//   samples.jsonl of the earlier run (metrics.jsonl and the log are rewritten by the run).
#pragma once

#include <filesystem>

#include "mlxft/config/recipe.h"

namespace mlxft {

void lock_output_dir(const std::filesystem::path& out);
void prepare_output_dir(const Recipe& recipe, bool resuming);

}  // namespace mlxft
