// The checkpoint side of the Trainer: saving, restoring, and cutting metrics.jsonl back on resume.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <fstream>

#include "mlxft/train/checkpoint.h"
#include "mlxft/train/trainer.h"
#include "mlxft/util/durable_file.h"
#include "mlxft/util/error.h"

namespace fs = std::filesystem;

namespace mlxft {

namespace {

int64_t count_lines(const fs::path& file) {
  std::ifstream in(file);
  int64_t n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

}  // namespace

fs::path Trainer::save_checkpoint(const TrainerState& st) {
  CheckpointContent c;
  for (size_t i = 0; i < params_.size(); ++i) c.adapters.emplace(names_[i], params_[i]);
  c.optimizer = optimizer_->state();
  c.state = st.to_json(s_.seed, config_hash(s_.config_yaml));
  c.config_yaml = s_.config_yaml;
  CheckpointStore store(s_.output_dir / "checkpoints");
  const fs::path dir = store.save(st.step, c);
  store.rotate(s_.save_total_limit, s_.save_best ? st.best_step : std::nullopt);
  spdlog::info("checkpoint saved: {}", dir.string());
  return dir;
}

void Trainer::restore(const std::string& resume, TrainerState& st) {
  CheckpointStore store(s_.output_dir / "checkpoints");
  const auto found = store.resolve(resume);
  if (!found && resume == "latest")
    spdlog::warn("--resume latest: no valid checkpoint in {}; starting from step 0", store.root().string());
  store.clean_temporaries();
  if (!found) {
    metrics_ = std::make_unique<MetricsWriter>(s_.output_dir / s_.metrics_file, false);
    return;
  }
  const auto& [where, content] = *found;
  for (size_t i = 0; i < params_.size(); ++i) {
    auto it = content.adapters.find(names_[i]);
    if (it == content.adapters.end() || it->second.shape() != params_[i].shape()) {
      throw Error(ErrorKind::Checkpoint, (where.dir / "adapters.safetensors").string(),
                  fmt::format("adapter '{}' is missing or has another shape", names_[i]),
                  "resume with the LoRA settings the checkpoint was written with");
    }
    params_[i] = mx::astype(it->second, mx::float32);
  }
  mx::eval(params_);
  optimizer_->load_state(content.optimizer, params_, (where.dir / "optimizer.safetensors").string());
  try {
    st.from_json(content.state);
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorKind::Checkpoint, (where.dir / "state.json").string(), e.what());
  }
  if (content.state.value("seed", s_.seed) != s_.seed) {
    spdlog::warn("the checkpoint was written with training.seed {}, this run has {}: the data order changes",
                 content.state.value("seed", s_.seed), s_.seed);
  }
  if (content.state.value("config_hash", std::string()) != config_hash(s_.config_yaml)) {
    spdlog::warn("the effective config differs from the checkpoint's; continuing with the new one");
  }
  cut_metrics_back(st);
  st.last_checkpoint = where.dir;
  spdlog::info("resumed from {} at step {} (epoch {}, micro-batch {})", where.dir.string(), st.step, st.epoch,
               st.position);
}

// metrics.jsonl: keep the lines the checkpoint had seen, drop those of the lost steps.
void Trainer::cut_metrics_back(TrainerState& st) {
  const fs::path metrics = s_.output_dir / s_.metrics_file;
  truncate_lines_atomic(metrics, st.metrics_lines);
  st.metrics_lines = std::min(st.metrics_lines, count_lines(metrics));
  metrics_ = std::make_unique<MetricsWriter>(metrics, true);
}

}  // namespace mlxft
