#include "mlxft/train/trainer.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <deque>
#include <fstream>
#include <numeric>
#include <random>

#include "mlxft/train/checkpoint.h"
#include "mlxft/train/signals.h"
#include "mlxft/util/error.h"

namespace fs = std::filesystem;

namespace mlxft {

namespace {

constexpr int kStateFormat = 1;

std::string fnv1a_hex(const std::string& text) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : text) h = (h ^ c) * 0x100000001b3ull;
  return fmt::format("{:016x}", h);
}

double gigabytes(size_t bytes) {
  return static_cast<double>(bytes) / 1e9;
}

template <typename T>
nlohmann::json opt_json(const std::optional<T>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

}  // namespace

// Everything of the loop that a checkpoint must carry, plus the current logging window.
struct Trainer::State {
  int64_t step = 0;
  int64_t epoch = 0;
  int64_t position = 0;  // next micro-batch of the epoch
  std::optional<double> best_loss;
  std::optional<int64_t> best_step;
  int evals_without_improvement = 0;
  int consecutive_skips = 0;
  int64_t metrics_lines = 0;
  int64_t trained_tokens = 0;
  double elapsed_s = 0.0;  // training time before this process
  // logging window since the last train line
  double window_nll = 0.0;
  int64_t window_tokens = 0;
  double window_norm = 0.0;
  int64_t window_steps = 0;
  double window_seconds = 0.0;

  std::optional<EvalSummary> last_eval;
  int64_t last_eval_step = -1;
  int64_t last_save_step = -1;
  fs::path last_checkpoint;

  nlohmann::json to_json(uint64_t seed, const std::string& config_hash) const {
    return {{"format", kStateFormat},
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
            {"log_window", {window_nll, window_tokens, window_norm, window_steps, window_seconds}},
            {"config_hash", config_hash}};
  }

  void from_json(const nlohmann::json& j) {
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
    last_save_step = step;
  }
};

int64_t TrainerSettings::micro_batches_per_epoch() const {
  return (num_train_examples + batch_size - 1) / batch_size;
}

int64_t TrainerSettings::steps_per_epoch() const {
  return (micro_batches_per_epoch() + accumulation_steps - 1) / accumulation_steps;
}

int64_t TrainerSettings::total_steps() const {
  return max_steps > 0 ? max_steps : steps_per_epoch() * num_epochs;
}

LrSchedule TrainerSettings::schedule() const {
  const int64_t total = total_steps();
  const int64_t warmup = warmup_ratio > 0.0
                             ? static_cast<int64_t>(std::ceil(warmup_ratio * static_cast<double>(total)))
                             : warmup_steps;
  return LrSchedule{lr_scheduler, learning_rate, warmup, total, min_lr_ratio};
}

std::vector<std::vector<int64_t>> shuffled_micro_batches(int64_t n, int batch_size, uint64_t seed,
                                                         int64_t epoch) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  // Fisher-Yates on raw mt19937_64 output, so the order is the same with every standard library.
  std::mt19937_64 rng(seed + static_cast<uint64_t>(epoch));
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng() % i]);
  std::vector<std::vector<int64_t>> batches;
  for (size_t i = 0; i < order.size(); i += static_cast<size_t>(batch_size)) {
    const size_t end = std::min(order.size(), i + static_cast<size_t>(batch_size));
    batches.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(i),
                         order.begin() + static_cast<std::ptrdiff_t>(end));
  }
  return batches;
}

Trainer::Trainer(TrainerSettings settings, TrainerHooks hooks, std::vector<std::string> names,
                 std::vector<mx::array> params)
    : s_(std::move(settings)),
      hooks_(std::move(hooks)),
      names_(std::move(names)),
      params_(std::move(params)),
      optimizer_(make_optimizer(s_.optimizer)) {
  if (names_.size() != params_.size()) {
    throw Error(ErrorKind::Training, "trainer", "parameter names and parameters differ in number");
  }
  if (s_.num_train_examples < 1) {
    throw Error(ErrorKind::Data, "training set", "no training example",
                "check data.dataset_path and the split");
  }
  if (s_.batch_size < 1 || s_.accumulation_steps < 1) {
    throw Error(ErrorKind::Config, "training.batch_size",
                "batch_size and gradient_accumulation_steps must be >= 1");
  }
  validate_schedule(s_.schedule());
  for (auto& p : params_) p = mx::astype(p, mx::float32);
  mx::eval(params_);
}

std::vector<std::vector<int64_t>> Trainer::epoch_order(int64_t epoch) const {
  auto batches = hooks_.epoch_batches
                     ? hooks_.epoch_batches(epoch)
                     : shuffled_micro_batches(s_.num_train_examples, s_.batch_size, s_.seed, epoch);
  if (static_cast<int64_t>(batches.size()) != s_.micro_batches_per_epoch()) {
    throw Error(ErrorKind::Training, fmt::format("epoch {}", epoch),
                fmt::format("the batch plan has {} micro-batches, expected {}", batches.size(),
                            s_.micro_batches_per_epoch()));
  }
  return batches;
}

template <typename Line>
void Trainer::append_metrics(const Line& line, State& st) {
  metrics_->write(line);
  ++st.metrics_lines;
}

fs::path Trainer::save_checkpoint(const State& st) {
  CheckpointContent c;
  for (size_t i = 0; i < params_.size(); ++i) c.adapters.emplace(names_[i], params_[i]);
  c.optimizer = optimizer_->state();
  c.state = st.to_json(s_.seed, fnv1a_hex(s_.config_yaml));
  c.config_yaml = s_.config_yaml;
  CheckpointStore store(s_.output_dir / "checkpoints");
  const fs::path dir = store.save(st.step, c);
  store.rotate(s_.save_total_limit, s_.save_best ? st.best_step : std::nullopt);
  spdlog::info("checkpoint saved: {}", dir.string());
  return dir;
}

void Trainer::restore(const std::string& resume, State& st) {
  CheckpointStore store(s_.output_dir / "checkpoints");
  std::optional<std::pair<StoredCheckpoint, CheckpointContent>> found;
  if (resume == "latest") {
    found = store.load_latest_valid();
    if (!found)
      spdlog::warn("--resume latest: no valid checkpoint in {}; starting from step 0", store.root().string());
  } else if (!resume.empty()) {
    const fs::path dir(resume);
    found = std::make_pair(StoredCheckpoint{0, dir}, CheckpointStore::load(dir));
  }
  store.clean_temporaries();
  const fs::path metrics = s_.output_dir / s_.metrics_file;
  if (!found) {
    metrics_ = std::make_unique<MetricsWriter>(metrics, false);
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
  if (content.state.value("config_hash", std::string()) != fnv1a_hex(s_.config_yaml)) {
    spdlog::warn("the effective config differs from the checkpoint's; continuing with the new one");
  }
  // metrics.jsonl: keep the lines the checkpoint had seen, drop those of the lost steps.
  std::vector<std::string> lines;
  {
    std::ifstream in(metrics);
    std::string line;
    while (static_cast<int64_t>(lines.size()) < st.metrics_lines && std::getline(in, line))
      lines.push_back(line);
  }
  {
    std::ofstream out(metrics, std::ios::trunc);
    for (const auto& l : lines) out << l << "\n";
  }
  metrics_ = std::make_unique<MetricsWriter>(metrics, true);
  st.metrics_lines = static_cast<int64_t>(lines.size());
  st.last_checkpoint = where.dir;
  spdlog::info("resumed from {} at step {} (epoch {}, micro-batch {})", where.dir.string(), st.step, st.epoch,
               st.position);
}

TrainOutcome Trainer::run(const std::string& resume, const StopSignals* stop) {
  std::error_code ec;
  fs::create_directories(s_.output_dir, ec);
  if (ec)
    throw Error(ErrorKind::Io, s_.output_dir.string(), "cannot create the output directory: " + ec.message());
  State st;
  restore(resume, st);

  const int64_t total = s_.total_steps();
  const int64_t micro_per_epoch = s_.micro_batches_per_epoch();
  const LrSchedule schedule = s_.schedule();
  using clock = std::chrono::steady_clock;
  const auto run_start = clock::now();
  const double elapsed_before = st.elapsed_s;
  auto elapsed = [&] {
    return elapsed_before + std::chrono::duration<double>(clock::now() - run_start).count();
  };
  auto fractional_epoch = [&] {
    return static_cast<double>(st.epoch) +
           static_cast<double>(st.position) / static_cast<double>(micro_per_epoch);
  };
  auto save = [&] {
    st.elapsed_s = elapsed();
    st.last_checkpoint = save_checkpoint(st);
    st.last_save_step = st.step;
  };
  auto evaluate = [&] {
    if (!hooks_.evaluate) return false;
    EvalSummary e = hooks_.evaluate(params_);
    st.last_eval = e;
    st.last_eval_step = st.step;
    const bool improved = !st.best_loss || e.loss < *st.best_loss - s_.early_stopping_threshold;
    const bool is_best = !st.best_loss || e.loss < *st.best_loss;
    if (is_best) {
      st.best_loss = e.loss;
      st.best_step = st.step;
    }
    st.evals_without_improvement = improved ? 0 : st.evals_without_improvement + 1;
    append_metrics(EvalMetrics{st.step, fractional_epoch(), e.loss, e.perplexity, e.tokens, is_best}, st);
    spdlog::info("step {}: validation loss {:.4f}, perplexity {:.2f}{}", st.step, e.loss, e.perplexity,
                 is_best ? " (best)" : "");
    if (hooks_.write_samples) hooks_.write_samples(params_, st.step);
    return is_best;
  };

  std::deque<double> logged_losses;  // the last 10 logged losses, for the loss-rise warning
  auto health_warnings = [&](double loss, double norm) {
    if (norm > s_.grad_norm_warning_high) {
      spdlog::warn(
          "step {}: gradient norm {:.3g} above {} (advanced.grad_norm_warning_high): the run may diverge; "
          "consider a lower learning rate",
          st.step, norm, s_.grad_norm_warning_high);
    } else if (norm < s_.grad_norm_warning_low) {
      spdlog::warn(
          "step {}: gradient norm {:.3g} below {} (advanced.grad_norm_warning_low): nothing is learning",
          st.step, norm, s_.grad_norm_warning_low);
    }
    if (logged_losses.size() == 10 && loss > s_.loss_rise_warning * logged_losses.front()) {
      spdlog::warn("step {}: loss {:.4f} is {:.2f}x the loss 10 logs ago (advanced.loss_rise_warning {})",
                   st.step, loss, loss / logged_losses.front(), s_.loss_rise_warning);
    }
    logged_losses.push_back(loss);
    if (logged_losses.size() > 10) logged_losses.pop_front();
  };

  // A fresh run measures the validation loss before the first update, so that every run shows how far
  // training moved it. The baseline is logged, not tracked as a best (no checkpoint exists for it).
  if (st.step == 0 && hooks_.evaluate) {
    const EvalSummary e = hooks_.evaluate(params_);
    append_metrics(EvalMetrics{0, 0.0, e.loss, e.perplexity, e.tokens, false}, st);
    spdlog::info("step 0: validation loss {:.4f}, perplexity {:.2f} (before training)", e.loss, e.perplexity);
  }

  TrainOutcome out;
  std::vector<std::vector<int64_t>> order;
  int64_t order_epoch = -1;
  auto window_start = clock::now();
  while (st.step < total) {
    if (stop && stop->requested()) {
      if (st.last_save_step != st.step) save();
      out.stopped_by_signal = true;
      break;
    }
    if (order_epoch != st.epoch) {
      order = epoch_order(st.epoch);
      order_epoch = st.epoch;
    }
    // One optimizer step: up to accumulation_steps micro-batches of this epoch.
    std::vector<Batch> micro;
    std::vector<mx::array> keys;
    const int64_t step_number = st.step + 1;
    for (int m = 0; m < s_.accumulation_steps && st.position < micro_per_epoch; ++m, ++st.position) {
      micro.push_back(hooks_.make_batch(order[static_cast<size_t>(st.position)]));
      keys.push_back(dropout_key(s_.seed, step_number, m));
    }
    Gradients g = accumulate_gradients(hooks_.loss, params_, micro, keys);
    st.step = step_number;
    if (st.position >= micro_per_epoch) {
      ++st.epoch;
      st.position = 0;
    }
    const bool epoch_end = st.position == 0;
    const double lr = schedule.lr_at(st.step);
    UpdateResult u = apply_update(params_, *optimizer_, g, lr, s_.max_grad_norm);

    if (!u.applied) {
      ++st.consecutive_skips;
      append_metrics(SkipMetrics{st.step, u.skip_reason}, st);
      spdlog::warn("step {}: {}; update skipped ({} in a row)", st.step, u.skip_reason, st.consecutive_skips);
      if (st.consecutive_skips >= s_.max_consecutive_nan) {
        const std::string last = st.last_checkpoint.empty() ? "none yet" : st.last_checkpoint.string();
        throw Error(
            ErrorKind::Training, fmt::format("step {}", st.step),
            fmt::format("{} non-finite steps in a row (last: {}); training stopped", st.consecutive_skips,
                        u.skip_reason),
            fmt::format("lower training.learning_rate or check the data; the last good checkpoint is {}",
                        last));
      }
    } else {
      st.consecutive_skips = 0;
      st.trained_tokens += g.tokens;
      st.window_nll += g.loss * static_cast<double>(g.tokens);
      st.window_tokens += g.tokens;
      st.window_norm += u.grad_norm;
      ++st.window_steps;
    }

    const bool last_step = st.step >= total;
    if ((s_.logging_steps > 0 && st.step % s_.logging_steps == 0) || last_step) {
      const auto now = clock::now();
      st.window_seconds += std::chrono::duration<double>(now - window_start).count();
      window_start = now;
      if (st.window_steps > 0) {
        const double loss = st.window_nll / static_cast<double>(std::max<int64_t>(st.window_tokens, 1));
        const double tps = static_cast<double>(st.window_tokens) / std::max(st.window_seconds, 1e-9);
        const double norm = st.window_norm / static_cast<double>(st.window_steps);
        const TrainMetrics line{st.step,
                                fractional_epoch(),
                                loss,
                                lr,
                                norm,
                                tps,
                                st.trained_tokens,
                                gigabytes(mx::get_active_memory()),
                                gigabytes(mx::get_peak_memory()),
                                elapsed()};
        append_metrics(line, st);
        if (hooks_.on_train_log) {
          hooks_.on_train_log(line, total);
        } else {
          spdlog::info("step {}/{} epoch {:.2f}: loss {:.4f} lr {:.3g} grad norm {:.3f} {:.0f} tok/s",
                       st.step, total, fractional_epoch(), loss, lr, norm, tps);
        }
        health_warnings(loss, norm);
      }
      st.window_nll = st.window_norm = st.window_seconds = 0.0;
      st.window_tokens = st.window_steps = 0;
    }

    bool new_best = false;
    const bool eval_due =
        (s_.eval_steps > 0 && st.step % s_.eval_steps == 0) || (s_.eval_steps <= 0 && epoch_end);
    if (eval_due || last_step) new_best = evaluate();
    const bool early_stop =
        s_.early_stopping_patience > 0 && st.evals_without_improvement >= s_.early_stopping_patience;

    const bool save_due = (s_.save_steps > 0 && st.step % s_.save_steps == 0) || epoch_end || last_step ||
                          early_stop || (new_best && s_.save_best);
    if (save_due) save();
    if (hooks_.after_step) hooks_.after_step(st.step);
    window_start = clock::now();  // checkpoint, evaluation and hook time is not training time
    if (early_stop) {
      spdlog::info("early stopping: no improvement over {} evaluations", st.evals_without_improvement);
      out.early_stopped = true;
      break;
    }
  }
  if (!out.stopped_by_signal && st.last_save_step != st.step) save();

  out.step = st.step;
  out.best_eval_loss = st.best_loss;
  out.best_step = st.best_step;
  out.last_eval = st.last_eval;
  out.last_checkpoint = st.last_checkpoint;
  return out;
}

}  // namespace mlxft
