// The checkpoint side of the Trainer: saving, restoring, and cutting metrics.jsonl back on resume.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <fstream>

#include "mlxft/train/checkpoint.h"
#include "mlxft/train/distributed.h"
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

std::vector<int> dims(const mx::array& a) {
  return {a.shape().begin(), a.shape().end()};
}

mx::array zeros_of(const nlohmann::json& dims) {
  const auto v = dims.get<std::vector<int>>();
  return mx::zeros(mx::Shape(v.begin(), v.end()), mx::float32);
}

}  // namespace

fs::path Trainer::save_checkpoint(const TrainerState& st) {
  CheckpointStore store(s_.output_dir / "checkpoints");
  if (!is_main()) return store.root() / CheckpointStore::dir_name(st.step);  // rank 0 writes it
  CheckpointContent c;
  for (size_t i = 0; i < params_.size(); ++i) c.adapters.emplace(names_[i], params_[i]);
  c.optimizer = optimizer_->state();
  c.state = st.to_json(s_.seed, config_hash(s_.config_yaml));
  c.config_yaml = s_.config_yaml;
  const fs::path dir = store.save(st.step, c);
  store.rotate(s_.save_total_limit, s_.save_best ? st.best_step : std::nullopt);
  spdlog::info("checkpoint saved: {}", dir.string());
  return dir;
}

// Rank 0's checkpoint (or none) on every rank: its directory, state and array shapes as JSON, then
// the arrays (float32, as the trainer keeps them).
Trainer::Found Trainer::share_checkpoint(const Found& found) const {
  nlohmann::json head = nlohmann::json::object();
  if (found) {
    head["dir"] = found->first.dir.string();
    head["step"] = found->first.step;
    head["state"] = found->second.state;
    for (const auto& [name, a] : found->second.adapters) head["adapters"].push_back({name, dims(a)});
    for (const auto& [name, a] : found->second.optimizer) head["optimizer"].push_back({name, dims(a)});
  }
  head = group_->broadcast(head, "checkpoint exchange");
  if (!head.contains("dir")) return std::nullopt;
  std::vector<mx::array> arrays;
  for (const char* part : {"adapters", "optimizer"}) {
    for (const auto& entry : head.value(part, nlohmann::json::array())) {
      const auto name = entry[0].get<std::string>();
      const auto& mine = part[0] == 'a' ? found->second.adapters : found->second.optimizer;
      arrays.push_back(is_main() ? mine.at(name) : zeros_of(entry[1]));
    }
  }
  arrays = group_->broadcast(arrays, "checkpoint exchange");
  std::pair<StoredCheckpoint, CheckpointContent> out{
      StoredCheckpoint{head["step"].get<int64_t>(), head["dir"].get<std::string>()}, {}};
  out.second.state = head["state"];
  size_t k = 0;
  for (const char* part : {"adapters", "optimizer"}) {
    auto& into = part[0] == 'a' ? out.second.adapters : out.second.optimizer;
    for (const auto& entry : head.value(part, nlohmann::json::array()))
      into.insert_or_assign(entry[0].get<std::string>(), arrays[k++]);
  }
  return out;
}

void Trainer::restore(const std::string& resume, TrainerState& st) {
  CheckpointStore store(s_.output_dir / "checkpoints");
  Found found;
  if (is_main()) {
    found = store.resolve(resume);
    if (!found && resume == "latest")
      spdlog::warn("--resume latest: no valid checkpoint in {}; starting from step 0", store.root().string());
    store.clean_temporaries();
  }
  if (distributed() && !resume.empty()) found = share_checkpoint(found);
  if (!found) {
    if (is_main()) open_sinks(s_.output_dir / s_.metrics_file, false);
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
  if (!is_main()) {
    st.last_checkpoint = where.dir;
    return;
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
  (void)tolerate_write_failure([&] { truncate_lines_atomic(metrics, st.metrics_lines); },
                               "its lines of the lost steps stay (the report reads the later ones)");
  st.metrics_lines = std::min(st.metrics_lines, count_lines(metrics));
  open_sinks(metrics, true);
  feed_sinks([&st](MetricsSink& sink) { sink.on_resume(st.step); });  // metrics.jsonl ignores it
}

}  // namespace mlxft
