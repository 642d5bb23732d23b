#include "mlxft/app/settings.h"

#include <mlx/mlx.h>

#include <algorithm>

#include "mlxft/config/load.h"
#include "mlxft/util/blas.h"

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

SystemApplied apply_system_settings(const SystemSection& sys, int threads_flag) {
  SystemApplied applied;
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

size_t raise_cpu_buffer_cache() {
  if (mlx::core::is_available(mlx::core::Device::gpu)) return 0;
  const size_t limit = cpu_cache_limit(mlx::core::get_memory_limit());
  mlx::core::set_cache_limit(limit);
  return limit;
}

}  // namespace mlxft
