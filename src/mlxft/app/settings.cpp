#include "mlxft/app/settings.h"

#include <mlx/mlx.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "mlxft/config/advice.h"
#include "mlxft/config/load.h"
#include "mlxft/util/address_space.h"
#include "mlxft/util/blas.h"
#include "mlxft/util/device.h"

namespace mlxft {

TrainerSettings trainer_settings_from(const Recipe& r, int64_t num_train_examples) {
  const TrainingSection& t = r.training;
  TrainerSettings s;
  s.num_train_examples = num_train_examples;
  s.batch_size = t.batch_size;
  s.accumulation_steps = t.gradient_accumulation_steps;
  s.num_epochs = t.num_epochs;
  s.max_steps = t.max_steps;
  s.seed = static_cast<uint64_t>(t.seed);
  s.optimizer = {t.optimizer, t.weight_decay, t.adam_beta1, t.adam_beta2, t.adam_epsilon, t.sgd_momentum};
  s.lr_scheduler = t.lr_scheduler;
  s.learning_rate = t.learning_rate;
  s.warmup_steps = t.warmup_steps;
  s.warmup_ratio = t.warmup_ratio;
  s.min_lr_ratio = t.min_lr_ratio;
  s.max_grad_norm = t.max_grad_norm;
  s.logging_steps = t.logging_steps;
  s.eval_steps = t.eval_steps;
  s.save_steps = t.save_steps;
  s.save_total_limit = r.output.save_total_limit;
  s.save_best = r.output.save_best;
  s.early_stopping_patience = r.evaluation.early_stopping_patience;
  s.early_stopping_threshold = r.evaluation.early_stopping_threshold;
  s.max_consecutive_nan = r.advanced.max_consecutive_nan;
  s.loss_rise_warning = r.advanced.loss_rise_warning;
  s.grad_norm_warning_high = r.advanced.grad_norm_warning_high;
  s.grad_norm_warning_low = r.advanced.grad_norm_warning_low;
  s.output_dir = r.output.output_dir;
  s.metrics_file = r.logging.jsonl;
  s.config_yaml = recipe_to_yaml(r);
  return s;
}

SystemApplied apply_system_settings(const SystemSection& sys, int threads_flag,
                                    const std::string& device_flag) {
  SystemApplied applied;
  applied.device =
      device_flag.empty() ? use_device(sys.device, "system.device") : use_device(device_flag, "--device");
  if (threads_flag <= 0 && sys.threads > 0) {
    set_blas_threads(sys.threads);
    applied.blas_threads = sys.threads;
  }
  if (sys.memory_limit_gb > 0.0) {
    applied.memory_limit_bytes = static_cast<size_t>(sys.memory_limit_gb * 1e9);
    mlx::core::set_memory_limit(applied.memory_limit_bytes);
  }
  applied.cpu_cache_bytes = raise_cpu_buffer_cache();
  return applied;
}

size_t cpu_cache_limit(size_t memory_limit) {
  return std::min(size_t{4} << 30, memory_limit / 8);
}

double address_space_budget_bytes() {
  const uint64_t limit = address_space_limit();
  if (limit == 0) return 0.0;
  const double mlx_data =
      static_cast<double>(mlx::core::get_active_memory()) + static_cast<double>(mlx::core::get_cache_memory());
  const double other = std::max(0.0, static_cast<double>(address_space_used()) - mlx_data);
  return std::max(1.0, static_cast<double>(limit) - other);  // 1 byte: a limit that leaves nothing
}

size_t run_cpu_cache_limit() {
  if (mlx::core::is_available(mlx::core::Device::gpu)) return 0;
  size_t memory_limit = mlx::core::get_memory_limit();
  if (const uint64_t as = address_space_limit(); as > 0) memory_limit = std::min<size_t>(memory_limit, as);
  return cpu_cache_limit(memory_limit);
}

size_t raise_cpu_buffer_cache() {
  if (mlx::core::is_available(mlx::core::Device::gpu)) return 0;
  const size_t limit = run_cpu_cache_limit();
  mlx::core::set_cache_limit(limit);
  return limit;
}

bool choose_weight_packing(const Recipe& r, const Model& model, const LoraAdapters& adapters,
                           const Split& split, const TrainerSettings& s, int ranks) {
  if (!projections_can_be_packed(model)) return false;
  KernelPaths packed = kernel_paths(model);
  packed.projections_packed = true;  // the estimate counts the packed copies
  packed.head_packed = true;         // a quantized head is packed with them (head_is_packed())
  const double with = run_memory_estimate(r, model, adapters, split, s, ranks, packed).total();
  const double budget = memory_budget_gb(r, machine_memory_bytes() / 1e9, address_space_budget_bytes() / 1e9) * 1e9;
  const double fraction = r.advanced.memory_warning_fraction;
  const bool pack = pack_weights_for_run(r.model.pack_weights, with, budget, fraction);
  if (r.model.pack_weights == "auto") {
    spdlog::info(
        "model.pack_weights auto: {} the projections (estimate with their packed copies {:.2f} GB, "
        "{:.0f} % of the {:.1f} GB budget is {:.2f} GB)",
        pack ? "packing" : "not packing", with / 1e9, 100.0 * fraction, budget / 1e9,
        fraction * budget / 1e9);
  }
  return pack;
}

MemoryEstimate run_memory_estimate(const Recipe& r, const Model& model, const LoraAdapters& adapters,
                                   const Split& split, const TrainerSettings& s, int ranks,
                                   const KernelPaths& kernels) {
  int max_len = 0;
  for (const auto& e : split.train) max_len = std::max(max_len, static_cast<int>(e.ids.size()));
  MemoryEstimate e = estimate_training_memory(model.config, static_cast<int>(mlx::core::size_of(model.dtype)),
                                              adapters.parameter_count(), std::max(1, s.batch_size / ranks),
                                              max_len, r.training.gradient_checkpointing, quantized_base(model),
                                              kernels);
  e.cache = std::min(static_cast<double>(run_cpu_cache_limit()), e.activations);
  return e;
}

}  // namespace mlxft
