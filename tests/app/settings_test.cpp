// trainer_settings_from(): every recipe key the trainer reads reaches TrainerSettings (each set to a
// value unlike its default, so a dropped or swapped copy fails); apply_system_settings(): the system
// keys take effect (BLAS threads unless --threads was given, MLX's memory limit).
#include "mlxft/app/settings.h"

#include <gtest/gtest.h>
#include <mlx/mlx.h>

#include "mlxft/app/summary.h"
#include "mlxft/util/error.h"

namespace mlxft {
namespace {

Recipe distinct_recipe() {
  Recipe r;
  TrainingSection& t = r.training;
  t.batch_size = 3;
  t.gradient_accumulation_steps = 5;
  t.num_epochs = 7;
  t.max_steps = 11;
  t.seed = 13;
  t.optimizer = "sgd";
  t.weight_decay = 0.17;
  t.adam_beta1 = 0.19;
  t.adam_beta2 = 0.23;
  t.adam_epsilon = 0.29;
  t.sgd_momentum = 0.31;
  t.lr_scheduler = "linear";
  t.learning_rate = 0.37;
  t.warmup_steps = 41;
  t.warmup_ratio = 0.43;
  t.min_lr_ratio = 0.47;
  t.max_grad_norm = 0.53;
  t.logging_steps = 59;
  t.eval_steps = 61;
  t.save_steps = 67;
  r.output.save_total_limit = 71;
  r.output.save_best = false;
  r.output.output_dir = "/tmp/out-73";
  r.evaluation.early_stopping_patience = 79;
  r.evaluation.early_stopping_threshold = 0.83;
  r.advanced.max_consecutive_nan = 89;
  r.advanced.loss_rise_warning = 9.7;
  r.advanced.grad_norm_warning_high = 101;
  r.advanced.grad_norm_warning_low = 0.103;
  r.logging.jsonl = "m-107.jsonl";
  return r;
}

TEST(AppSettings, EveryTrainerKeyComesFromTheRecipe) {
  const Recipe r = distinct_recipe();
  const TrainerSettings s = trainer_settings_from(r, 109);
  EXPECT_EQ(s.num_train_examples, 109);
  EXPECT_EQ(s.batch_size, 3);
  EXPECT_EQ(s.accumulation_steps, 5);
  EXPECT_EQ(s.num_epochs, 7);
  EXPECT_EQ(s.max_steps, 11);
  EXPECT_EQ(s.seed, 13u);
  EXPECT_EQ(s.optimizer.kind, "sgd");
  EXPECT_DOUBLE_EQ(s.optimizer.weight_decay, 0.17);
  EXPECT_DOUBLE_EQ(s.optimizer.beta1, 0.19);
  EXPECT_DOUBLE_EQ(s.optimizer.beta2, 0.23);
  EXPECT_DOUBLE_EQ(s.optimizer.epsilon, 0.29);
  EXPECT_DOUBLE_EQ(s.optimizer.momentum, 0.31);
  EXPECT_EQ(s.lr_scheduler, "linear");
  EXPECT_DOUBLE_EQ(s.learning_rate, 0.37);
  EXPECT_EQ(s.warmup_steps, 41);
  EXPECT_DOUBLE_EQ(s.warmup_ratio, 0.43);
  EXPECT_DOUBLE_EQ(s.min_lr_ratio, 0.47);
  EXPECT_DOUBLE_EQ(s.max_grad_norm, 0.53);
  EXPECT_EQ(s.logging_steps, 59);
  EXPECT_EQ(s.eval_steps, 61);
  EXPECT_EQ(s.save_steps, 67);
  EXPECT_EQ(s.save_total_limit, 71);
  EXPECT_FALSE(s.save_best);
  EXPECT_EQ(s.output_dir, "/tmp/out-73");
  EXPECT_EQ(s.early_stopping_patience, 79);
  EXPECT_DOUBLE_EQ(s.early_stopping_threshold, 0.83);
  EXPECT_EQ(s.max_consecutive_nan, 89);
  EXPECT_DOUBLE_EQ(s.loss_rise_warning, 9.7);
  EXPECT_DOUBLE_EQ(s.grad_norm_warning_high, 101);
  EXPECT_DOUBLE_EQ(s.grad_norm_warning_low, 0.103);
  EXPECT_EQ(s.metrics_file, "m-107.jsonl");
  EXPECT_NE(s.config_yaml.find("learning_rate: 0.37"), std::string::npos) << s.config_yaml;
  // warmup_ratio wins over warmup_steps through the one formula: ceil(0.43 * 11) = 5
  EXPECT_EQ(s.schedule().warmup_steps, 5);
}

TEST(AppSettings, SystemKeysTakeEffect) {
  const size_t before = mlx::core::get_memory_limit();
  SystemSection sys;
  sys.threads = 1;
  sys.memory_limit_gb = 1.5;
  const SystemApplied applied = apply_system_settings(sys, /*threads_flag=*/0);
  EXPECT_EQ(applied.blas_threads, 1);
  EXPECT_EQ(applied.memory_limit_bytes, size_t{1500000000});
  EXPECT_EQ(mlx::core::get_memory_limit(), size_t{1500000000});
  // the --threads flag wins; no memory limit leaves MLX's alone
  mlx::core::set_memory_limit(before);
  const SystemApplied flagged = apply_system_settings(SystemSection{.threads = 1}, /*threads_flag=*/2);
  EXPECT_EQ(flagged.blas_threads, 0);
  EXPECT_EQ(flagged.memory_limit_bytes, 0u);
  EXPECT_EQ(mlx::core::get_memory_limit(), before);
}

TEST(SystemSettings, CpuCacheLimitIsAnEighthOfTheMemoryLimitUpTo4GiB) {
  EXPECT_EQ(cpu_cache_limit(size_t{1500000000}), size_t{187500000});
  EXPECT_EQ(cpu_cache_limit(size_t{24} << 30), size_t{3} << 30);
  EXPECT_EQ(cpu_cache_limit(size_t{64} << 30), size_t{4} << 30);
  EXPECT_EQ(cpu_cache_limit(0), 0u);
}

// This build's MLX is the CPU wheel: the cache limit follows the memory limit in force.
TEST(SystemSettings, RaisesMlxCpuCacheWithTheMemoryLimit) {
  ASSERT_FALSE(mlx::core::is_available(mlx::core::Device::gpu));
  const size_t before = mlx::core::get_memory_limit();
  const SystemApplied applied = apply_system_settings(SystemSection{.memory_limit_gb = 2.0}, 0);
  EXPECT_EQ(applied.cpu_cache_bytes, size_t{250000000});
  EXPECT_EQ(mlx::core::set_cache_limit(size_t{32} << 20),
            size_t{250000000});  // returns the limit it replaces
  mlx::core::set_memory_limit(before);
  EXPECT_EQ(raise_cpu_buffer_cache(), cpu_cache_limit(before));
  EXPECT_EQ(mlx::core::set_cache_limit(size_t{32} << 20), cpu_cache_limit(before));
}

// system.device becomes MLX's default device (the --device flag wins), and the run summary says which.
TEST(SystemSettings, DeviceKeyIsAppliedFirstAndShownInTheSummary) {
  const mlx::core::Device before = mlx::core::default_device();
  const SystemApplied applied = apply_system_settings(SystemSection{.device = "cpu"}, 0);
  EXPECT_EQ(mlx::core::default_device(), mlx::core::Device::cpu);
  EXPECT_EQ(device_summary_line(applied.device), "device:      cpu (system.device: cpu)");
  const SystemApplied flagged = apply_system_settings(SystemSection{.device = "gpu"}, 0, "cpu");
  EXPECT_EQ(device_summary_line(flagged.device), "device:      cpu (--device: cpu)");
  if (this_build().gpu_backend.empty()) {  // the CI's mlx-cpu build
    EXPECT_EQ(device_summary_line(apply_system_settings(SystemSection{}, 0).device),
              "device:      cpu (system.device: auto: this MLX build has no GPU backend)");
    try {
      apply_system_settings(SystemSection{.device = "gpu"}, 0);
      ADD_FAILURE() << "system.device gpu on a CPU-only build";
    } catch (const Error& e) {
      EXPECT_EQ(e.where(), "system.device");
      EXPECT_NE(e.hint().find("MLXFT_BACKEND=cuda13"), std::string::npos) << e.hint();
    }
  }
  mlx::core::set_default_device(before);
}

}  // namespace
}  // namespace mlxft
