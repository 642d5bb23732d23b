#include "mlxft/train/trainer.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cmath>

#include "mlxft/config/recipe.h"
#include "mlxft/train/distributed.h"
#include "mlxft/train/signals.h"
#include "mlxft/util/durable_file.h"
#include "mlxft/util/error.h"

namespace fs = std::filesystem;

namespace mlxft {

namespace {

double gigabytes(size_t bytes) {
  return static_cast<double>(bytes) / 1e9;
}

// One record to a sink, by its type.
void feed(MetricsSink& sink, const TrainMetrics& line) {
  sink.on_train(line);
}
void feed(MetricsSink& sink, const EvalMetrics& line) {
  sink.on_eval(line);
}
void feed(MetricsSink& sink, const SkipMetrics& line) {
  sink.on_skip(line);
}

}  // namespace

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
  return LrSchedule{lr_scheduler, learning_rate, warmup_steps_for(warmup_steps, warmup_ratio, total), total,
                    min_lr_ratio};
}

Trainer::Trainer(TrainerSettings settings, TrainerHooks hooks, std::vector<std::string> names,
                 std::vector<mx::array> params)
    : s_(std::move(settings)),
      hooks_(std::move(hooks)),
      names_(std::move(names)),
      params_(std::move(params)),
      optimizer_(make_optimizer(s_.optimizer)),
      health_({s_.loss_rise_warning, s_.grad_norm_warning_high, s_.grad_norm_warning_low}) {
  if (names_.size() != params_.size()) {
    throw Error(ErrorKind::Training, "trainer", "parameter names and parameters differ in number");
  }
  if (!hooks_.loss || !hooks_.make_batch || !hooks_.epoch_batches) {
    throw Error(ErrorKind::Training, "trainer", "the loss, make_batch and epoch_batches hooks are required");
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
  auto batches = hooks_.epoch_batches(epoch);
  if (static_cast<int64_t>(batches.size()) != s_.micro_batches_per_epoch()) {
    throw Error(ErrorKind::Training, fmt::format("epoch {}", epoch),
                fmt::format("the batch plan has {} micro-batches, expected {}", batches.size(),
                            s_.micro_batches_per_epoch()));
  }
  return batches;
}

bool Trainer::is_main() const {
  return group_ == nullptr || group_->is_main();
}

bool Trainer::distributed() const {
  return group_ != nullptr && group_->active();
}

// A stop signal on any rank stops every rank after the same step.
bool Trainer::stop_requested(const StopSignals* stop) const {
  const bool here = stop != nullptr && stop->requested();
  return distributed() ? group_->any(here, "stop decision exchange") : here;
}

template <typename Line>
void Trainer::append_metrics(const Line& line, TrainerState& st) {
  feed_sinks([&line](MetricsSink& sink) { feed(sink, line); });  // rank 0 only
  ++st.metrics_lines;
}

void Trainer::feed_sinks(const std::function<void(MetricsSink&)>& call) {
  for (auto it = sinks_.begin(); it != sinks_.end();) {
    if (tolerate_write_failure([&] { call(**it); }, "metrics are no longer written there for this run"))
      ++it;
    else
      it = sinks_.erase(it);
  }
}

void Trainer::open_sinks(const fs::path& metrics, bool append) {
  sinks_.clear();
  (void)tolerate_write_failure(
      [&] { sinks_.push_back(std::make_shared<MetricsWriter>(metrics, append)); },
      "metrics are not written there for this run");
  sinks_.insert(sinks_.end(), hooks_.metrics_sinks.begin(), hooks_.metrics_sinks.end());
}


double Trainer::elapsed() const {
  return elapsed_before_ + std::chrono::duration<double>(Clock::now() - run_start_).count();
}

double Trainer::fractional_epoch(const TrainerState& st) const {
  return static_cast<double>(st.epoch) +
         static_cast<double>(st.position) / static_cast<double>(s_.micro_batches_per_epoch());
}

void Trainer::save(TrainerState& st) {
  st.elapsed_s = elapsed();
  st.last_checkpoint = save_checkpoint(st);
  st.last_save_step = st.step;
}

// A fresh run measures the validation loss before the first update, so that every run shows how far
// training moved it. The baseline is logged, not tracked as a best (no checkpoint exists for it).
void Trainer::evaluate_baseline(TrainerState& st) {
  if (st.step != 0 || !hooks_.evaluate) return;
  const EvalResult e = hooks_.evaluate(params_);
  append_metrics(EvalMetrics{0, 0.0, e.loss, e.perplexity, e.tokens, false, e.extra}, st);
  spdlog::info("step 0: validation loss {:.4f}, perplexity {:.2f} (before training)", e.loss, e.perplexity);
}

bool Trainer::evaluate_and_track(TrainerState& st) {
  if (!hooks_.evaluate) return false;
  EvalResult e = hooks_.evaluate(params_);
  const bool improved = !st.best_loss || e.loss < *st.best_loss - s_.early_stopping_threshold;
  const bool is_best = !st.best_loss || e.loss < *st.best_loss;
  if (is_best) {
    st.best_loss = e.loss;
    st.best_step = st.step;
  }
  st.evals_without_improvement = improved ? 0 : st.evals_without_improvement + 1;
  append_metrics(EvalMetrics{st.step, fractional_epoch(st), e.loss, e.perplexity, e.tokens, is_best, e.extra},
                 st);
  spdlog::info("step {}: validation loss {:.4f}, perplexity {:.2f}{}", st.step, e.loss, e.perplexity,
               is_best ? " (best)" : "");
  st.last_eval = std::move(e);
  st.last_eval_step = st.step;
  if (hooks_.write_samples) hooks_.write_samples(params_, st.step);
  return is_best;
}

double Trainer::train_step(TrainerState& st, const std::vector<std::vector<int64_t>>& order,
                           const LrSchedule& schedule) {
  const int64_t micro_per_epoch = s_.micro_batches_per_epoch();
  std::vector<Batch> micro;
  std::vector<mx::array> keys;
  std::vector<bool> counts;
  const int64_t step_number = st.step + 1;
  const int ranks = distributed() ? group_->size() : 1, rank = distributed() ? group_->rank() : 0;
  for (int m = 0; m < s_.accumulation_steps && st.position < micro_per_epoch; ++m, ++st.position) {
    const std::vector<int64_t>& rows = order[static_cast<size_t>(st.position)];
    std::vector<int64_t> shard = distributed() ? group_->shard(rows) : rows;
    counts.push_back(!shard.empty());
    if (shard.empty()) shard = {rows.front()};  // computed for the exchange, counts nothing
    micro.push_back(hooks_.make_batch(shard));
    keys.push_back(dropout_key(s_.seed, step_number, m * ranks + rank));
  }
  SumAcrossRanks across;
  if (distributed()) {
    across = [this](std::vector<mx::array>& grads, std::vector<double>& totals) {
      grads = group_->sum(grads, "gradient exchange");
      totals = group_->sum(totals, "gradient exchange");
    };
  }
  Gradients g = accumulate_gradients(hooks_.loss, params_, micro, keys,
                                     distributed() ? counts : std::vector<bool>{}, across);
  st.step = step_number;
  if (st.position >= micro_per_epoch) {
    ++st.epoch;
    st.position = 0;
  }
  const double lr = schedule.lr_at(st.step);
  const UpdateResult u = apply_update(params_, *optimizer_, g, lr, s_.max_grad_norm);
  if (u.applied) {
    st.consecutive_skips = 0;
    st.trained_tokens += g.tokens;
    st.window_nll += g.loss * g.weight;
    st.window_weight += g.weight;
    st.window_tokens += g.tokens;
    for (const auto& [name, t] : g.metrics) {
      st.window_metrics[name].sum += t.sum;
      st.window_metrics[name].count += t.count;
    }
    st.window_norm += u.grad_norm;
    ++st.window_steps;
    return lr;
  }
  ++st.consecutive_skips;
  append_metrics(SkipMetrics{st.step, u.skip_reason}, st);
  spdlog::warn("step {}: {}; update skipped ({} in a row)", st.step, u.skip_reason, st.consecutive_skips);
  if (st.consecutive_skips >= s_.max_consecutive_nan) {
    const std::string last = st.last_checkpoint.empty() ? "none yet" : st.last_checkpoint.string();
    throw Error(
        ErrorKind::Training, fmt::format("step {}", st.step),
        fmt::format("{} non-finite steps in a row (last: {}); training stopped", st.consecutive_skips,
                    u.skip_reason),
        fmt::format("lower training.learning_rate or check the data; the last good checkpoint is {}", last));
  }
  return lr;
}

void Trainer::flush_log_window(TrainerState& st, double lr, int64_t total) {
  const auto now = Clock::now();
  st.window_seconds += std::chrono::duration<double>(now - window_start_).count();
  window_start_ = now;
  if (st.window_steps > 0) {
    const double loss = st.window_nll / std::max(st.window_weight, 1e-12);
    const double tps = static_cast<double>(st.window_tokens) / std::max(st.window_seconds, 1e-9);
    const double norm = st.window_norm / static_cast<double>(st.window_steps);
    TrainMetrics line{st.step,
                      fractional_epoch(st),
                      loss,
                      lr,
                      norm,
                      tps,
                      st.trained_tokens,
                      gigabytes(mx::get_active_memory()),
                      gigabytes(mx::get_peak_memory()),
                      elapsed(),
                      {}};
    for (const auto& [name, t] : st.window_metrics)
      line.extra[name] = t.count > 0 ? t.sum / t.count : std::nan("");
    append_metrics(line, st);
    if (hooks_.metrics_sinks.empty()) {
      spdlog::info("step {}/{} epoch {:.2f}: loss {:.4f} lr {:.3g} grad norm {:.3f} {:.0f} tok/s", st.step,
                   total, fractional_epoch(st), loss, lr, norm, tps);
    }
    if (is_main()) health_.check(st.step, loss, norm);
  }
  st.window_nll = st.window_norm = st.window_seconds = st.window_weight = 0.0;
  st.window_tokens = st.window_steps = 0;
  st.window_metrics.clear();
}

bool Trainer::after_step(TrainerState& st, bool epoch_end, bool last_step) {
  bool new_best = false;
  const bool eval_due =
      (s_.eval_steps > 0 && st.step % s_.eval_steps == 0) || (s_.eval_steps <= 0 && epoch_end);
  if (eval_due || last_step) new_best = evaluate_and_track(st);
  const bool early_stop =
      s_.early_stopping_patience > 0 && st.evals_without_improvement >= s_.early_stopping_patience;
  const bool save_due = (s_.save_steps > 0 && st.step % s_.save_steps == 0) || epoch_end || last_step ||
                        early_stop || (new_best && s_.save_best);
  if (save_due) save(st);
  if (hooks_.after_step) hooks_.after_step(st.step);
  window_start_ = Clock::now();  // checkpoint, evaluation and hook time is not training time
  if (early_stop)
    spdlog::info("early stopping: no improvement over {} evaluations", st.evals_without_improvement);
  return early_stop;
}

TrainOutcome Trainer::run(const std::string& resume, const StopSignals* stop) {
  std::error_code ec;
  if (is_main()) fs::create_directories(s_.output_dir, ec);
  if (ec)
    throw Error(ErrorKind::Io, s_.output_dir.string(), "cannot create the output directory: " + ec.message());
  TrainerState st;
  restore(resume, st);
  const int64_t total = s_.total_steps();
  const LrSchedule schedule = s_.schedule();
  run_start_ = Clock::now();
  elapsed_before_ = st.elapsed_s;
  evaluate_baseline(st);

  TrainOutcome out;
  std::vector<std::vector<int64_t>> order;
  int64_t order_epoch = -1;
  window_start_ = Clock::now();
  while (st.step < total) {
    if (stop_requested(stop)) {
      if (st.last_save_step != st.step) save(st);
      out.stopped_by_signal = true;
      break;
    }
    if (order_epoch != st.epoch) {
      order = epoch_order(st.epoch);
      order_epoch = st.epoch;
    }
    const double lr = train_step(st, order, schedule);
    const bool epoch_end = st.position == 0;
    const bool last_step = st.step >= total;
    if ((s_.logging_steps > 0 && st.step % s_.logging_steps == 0) || last_step)
      flush_log_window(st, lr, total);
    if (after_step(st, epoch_end, last_step)) {
      out.early_stopped = true;
      break;
    }
  }
  if (!out.stopped_by_signal && st.last_save_step != st.step) save(st);

  out.step = st.step;
  out.best_eval_loss = st.best_loss;
  out.best_step = st.best_step;
  out.last_eval = st.last_eval;
  out.last_checkpoint = st.last_checkpoint;
  return out;
}

}  // namespace mlxft
