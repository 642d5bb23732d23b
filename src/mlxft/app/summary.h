// What a train run prints before it starts, and the memory check.
//
// Contract:
// - print_run_summary() prints (stdout) the device the run computes on (and why: system.device or
//   --device, what auto found), the model (name, type, layers, hidden size, dtype), the
//   parameters (total, trainable, percent, LoRA rank/alpha/targets), the data counts, the steps per
//   epoch and in all, and the peak-memory estimate by part against the machine's memory. With
//   `ranks` > 1 (data parallel) also the world size, the per-rank and the global batch; the memory
//   estimate is that of one rank (its share of each micro-batch).
// - It then runs config/advice.h: a run that cannot fit the budget stops with a Memory error unless
//   system.force (the budget is system.memory_limit_gb when set and smaller), near-fits and
//   suspicious settings are logged as warnings.
#pragma once

#include <string>

#include "mlxft/config/recipe.h"
#include "mlxft/data/split.h"
#include "mlxft/model/llama.h"
#include "mlxft/model/lora.h"
#include "mlxft/train/trainer.h"
#include "mlxft/util/device.h"

namespace mlxft {

void print_run_summary(const Recipe& recipe, const Model& model, const LoraAdapters& adapters,
                       const Split& split, const TrainerSettings& settings, const ResolvedDevice& device,
                       int ranks = 1);

// The summary's device line: "device:      " + describe_device(device) (util/device.h).
std::string device_summary_line(const ResolvedDevice& device);

}  // namespace mlxft
