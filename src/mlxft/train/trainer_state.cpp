#include "mlxft/train/trainer_state.h"

#include "mlxft/util/hash.h"

namespace mlxft {

namespace {

constexpr int kStateFormat = 1;

template <typename T>
nlohmann::json opt_json(const std::optional<T>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

nlohmann::json metrics_json(const std::map<std::string, MetricTotal>& metrics) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, t] : metrics) j[name] = {t.sum, t.count};
  return j;
}

}  // namespace

nlohmann::json TrainerState::to_json(uint64_t seed, const std::string& hash) const {
  return {
      {"format", kStateFormat},
      {"step", step},
      {"epoch", epoch},
      {"position_in_epoch", position},
      {"seed", seed},
      {"best_eval_loss", opt_json(best_loss)},
      {"best_step", opt_json(best_step)},
      {"evals_without_improvement", evals_without_improvement},
      {"consecutive_skipped_steps", consecutive_skips},
      {"metrics_lines", metrics_lines},
      {"trained_tokens", trained_tokens},
      {"elapsed_s", elapsed_s},
      {"log_window", {window_nll, window_tokens, window_norm, window_steps, window_seconds, window_weight}},
      {"log_window_metrics", metrics_json(window_metrics)},
      {"config_hash", hash}};
}

void TrainerState::from_json(const nlohmann::json& j) {
  step = j.at("step").get<int64_t>();
  epoch = j.at("epoch").get<int64_t>();
  position = j.at("position_in_epoch").get<int64_t>();
  if (!j.at("best_eval_loss").is_null()) best_loss = j.at("best_eval_loss").get<double>();
  if (!j.at("best_step").is_null()) best_step = j.at("best_step").get<int64_t>();
  evals_without_improvement = j.at("evals_without_improvement").get<int>();
  consecutive_skips = j.at("consecutive_skipped_steps").get<int>();
  metrics_lines = j.at("metrics_lines").get<int64_t>();
  trained_tokens = j.at("trained_tokens").get<int64_t>();
  elapsed_s = j.at("elapsed_s").get<double>();
  const auto& w = j.at("log_window");
  window_nll = w.at(0).get<double>();
  window_tokens = w.at(1).get<int64_t>();
  window_norm = w.at(2).get<double>();
  window_steps = w.at(3).get<int64_t>();
  window_seconds = w.at(4).get<double>();
  // Format 1 states written before the loss weight was separate from the tokens (SFT: the same).
  window_weight = w.size() > 5 ? w.at(5).get<double>() : static_cast<double>(window_tokens);
  window_metrics.clear();
  if (const auto it = j.find("log_window_metrics"); it != j.end()) {
    for (const auto& [name, v] : it->items())
      window_metrics[name] = {v.at(0).get<double>(), v.at(1).get<double>()};
  }
  last_save_step = step;
}

std::string config_hash(const std::string& config_yaml) {
  return fnv1a64_hex(config_yaml);
}

}  // namespace mlxft
