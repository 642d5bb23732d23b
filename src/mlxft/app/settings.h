// The trainer's settings from a recipe: the one place where recipe keys become TrainerSettings.
//
// Contract:
// - trainer_settings_from(recipe, n) copies every training, output, evaluation and advanced key the
//   trainer reads (batch size, accumulation, epochs, max_steps, seed, optimizer, schedule, warmup,
//   clipping, logging/eval/save cadence, checkpoint retention, early stopping, health limits).
// - n is the number of training examples after the split; output_dir, the metrics file name and
//   the effective config text (stored in every checkpoint) come from the recipe too.
// - apply_system_settings() makes the system keys real: first system.device (util/device.h; the
//   --device flag wins when given) becomes MLX's default device, before any array exists;
//   system.threads sets the BLAS threads unless the --threads flag gave a number (> 0);
//   system.memory_limit_gb > 0 becomes MLX's memory limit (mx::set_memory_limit), the same number the
//   memory check uses as its budget. It returns what it set (0: left alone), and raises MLX's CPU
//   buffer cache (below).
// - cpu_cache_limit(memory_limit) = min(4 GiB, memory_limit / 8): what raise_cpu_buffer_cache() sets.
//   MLX's CPU allocator (a build without a GPU backend) keeps at most 32 MB of freed buffers; every
//   other buffer goes back to glibc, which hands big ones back to the kernel, so each step would map
//   them again as fresh zeroed pages (the page faults and step times measured: docs/performance.md).
//   raise_cpu_buffer_cache() applies it only when MLX has no GPU (the Metal and CUDA allocators cache
//   up to the memory limit already) and returns the limit set (0: left alone). Call it after the
//   memory limit is final.
// - choose_weight_packing() is the run's decision on model.pack_weights, made once where the run is set
//   up (run_training gives it to the model before the summary): "always", "never", or "auto" = when
//   the run's estimate with the packed projections stays under advanced.memory_warning_fraction of
//   the budget (model/memory.h pack_weights_for_run); false wherever packing does not apply
//   (projections_can_be_packed(), llama.h). It logs what auto chose where packing applies. It reads
//   the model and never changes it.
// - address_space_budget_bytes() is the room an address-space limit (`ulimit -v`) leaves for MLX's
//   data, 0 without a limit: the limit less what the process maps besides MLX's arrays and cache
//   (libraries, thread stacks, malloc arenas, OpenBLAS's buffers, mapped files), measured now. The
//   memory check and the packing decision weigh the estimate against it too (config/advice.h).
//   raise_cpu_buffer_cache() keeps the cache under an eighth of it as well.
// - run_memory_estimate() is the run's peak-memory estimate (model/memory.h) for one rank's share of a
//   micro-batch of the longest training example, through the given kernel paths, with its cache part
//   (model/memory.h) from run_cpu_cache_limit(): what the packing decision and the summary (summary.h) weigh.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "mlxft/config/recipe.h"
#include "mlxft/data/split.h"
#include "mlxft/model/llama.h"
#include "mlxft/model/lora.h"
#include "mlxft/model/memory.h"
#include "mlxft/train/trainer.h"
#include "mlxft/util/device.h"

namespace mlxft {

TrainerSettings trainer_settings_from(const Recipe& recipe, int64_t num_train_examples);

struct SystemApplied {
  ResolvedDevice device;  // where the run computes, and why
  int blas_threads = 0;
  size_t memory_limit_bytes = 0;
  size_t cpu_cache_bytes = 0;
};
SystemApplied apply_system_settings(const SystemSection& system, int threads_flag,
                                    const std::string& device_flag = "");

size_t cpu_cache_limit(size_t memory_limit);
// The cache limit raise_cpu_buffer_cache() sets (0: none, with a GPU): cpu_cache_limit() of MLX's
// memory limit or the address-space limit, the smaller.
size_t run_cpu_cache_limit();
double address_space_budget_bytes();
size_t raise_cpu_buffer_cache();

bool choose_weight_packing(const Recipe& recipe, const Model& model, const LoraAdapters& adapters,
                           const Split& split, const TrainerSettings& settings, int ranks = 1);

MemoryEstimate run_memory_estimate(const Recipe& recipe, const Model& model, const LoraAdapters& adapters,
                                   const Split& split, const TrainerSettings& settings, int ranks,
                                   const KernelPaths& kernels);

}  // namespace mlxft
