#include "mlxft/app/hooks.h"

#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>

#include "mlxft/eval/evaluate.h"
#include "mlxft/eval/generate.h"
#include "mlxft/eval/tool_eval.h"
#include "mlxft/objective/make_objective.h"
#include "mlxft/report/run_report.h"
#include "mlxft/report/tensorboard.h"
#include "mlxft/util/append_file.h"
#include "mlxft/util/durable_file.h"
#include "mlxft/util/error.h"

namespace fs = std::filesystem;
namespace mx = mlx::core;

namespace mlxft {

namespace {

// The progress display as a metrics sink: each train line moves it.
class ProgressSink final : public MetricsSink {
 public:
  explicit ProgressSink(std::function<void(const TrainMetrics&)> show) : show_(std::move(show)) {}
  void on_train(const TrainMetrics& line) override { show_(line); }

 private:
  std::function<void(const TrainMetrics&)> show_;
};

// The prompt of an example's first trained turn: its ids up to the first trained token.
std::vector<int32_t> prompt_of(const Example& e) {
  size_t end = 0;
  while (end < e.mask.size() && e.mask[end] == 0) ++end;
  return {e.ids.begin(), e.ids.begin() + static_cast<std::ptrdiff_t>(end)};
}

std::function<void(int64_t)> plot_refresh(const TrainRun& run) {
  const LoggingSection& l = run.recipe.logging;
  if (!l.plots || l.plots_per_epoch <= 0) return nullptr;
  const int64_t every = std::max<int64_t>(1, run.settings.steps_per_epoch() / l.plots_per_epoch);
  return [out = run.out, every](int64_t step) {
    if (step % every != 0) return;
    try {
      (void)build_run_report(out, run_report_options(out));
    } catch (const std::exception& e) {
      spdlog::warn("plots at step {} were not written: {}", step, e.what());
    }
  };
}

// Test-only: MLXFT_TEST_SIGTERM_AFTER_STEP=N raises SIGTERM once step N is done (logged, checkpointed),
// so the stop-and-resume path can be tested without racing the run.
void add_test_stop(TrainerHooks& hooks) {
  const char* value = std::getenv("MLXFT_TEST_SIGTERM_AFTER_STEP");
  if (value == nullptr || *value == '\0') return;
  const int64_t at = std::atoll(value);
  hooks.after_step = [then = std::move(hooks.after_step), at](int64_t step) {
    if (then) then(step);
    if (step == at) std::raise(SIGTERM);
  };
}

// The tool-call metrics (eval/tool_eval.h) as extra evaluation metrics, logged.
std::map<std::string, double> tool_call_metrics(const TrainRun& run, const LoraAdapters& adapters) {
  const EvaluationSection& ev = run.recipe.evaluation;
  ToolEvalOptions o;
  o.max_examples = ev.tool_call_examples;
  o.max_new_tokens = ev.tool_call_max_new_tokens;
  o.lora = &adapters;
  o.catalogue = run.inputs.catalogue;
  o.scoring.ignore_keys.insert(ev.ignore_argument_keys.begin(), ev.ignore_argument_keys.end());
  const ToolEvalResult r = evaluate_tool_calls(run.model, *run.inputs.chat, run.inputs.split.valid, o);
  const ToolCallMetrics& m = r.metrics;
  spdlog::info(
      "tool calls: name accuracy {:.3f}, arguments match {:.3f}, arguments exact {:.3f} over {} call turns "
      "({} turns, {:.1f} s)",
      m.name_accuracy, m.arguments_match, m.arguments_exact, m.call_turns, m.turns, r.generate_seconds);
  return {
      {"tool_turns", static_cast<double>(m.turns)}, {"tool_call_turns", static_cast<double>(m.call_turns)},
      {"tool_name_accuracy", m.name_accuracy},      {"tool_arguments_exact", m.arguments_exact},
      {"tool_valid_call_rate", m.valid_call_rate},  {"tool_no_call_accuracy", m.no_call_accuracy},
      {"tool_arguments_match", m.arguments_match},  {"tool_argument_accuracy", m.argument_accuracy}};
}

}  // namespace

RunHooks::RunHooks(const TrainRun& run, const LoraAdapters& layout)
    : run_(run),
      layout_(layout),
      objective_(make_objective(
          ObjectiveContext{run.recipe, run.model, layout, run.inputs.split.train, run.request.init_adapter})),
      plan_(run.inputs.split.train, run.settings.batch_size, run.settings.seed),
      progress_(std::cerr, progress_mode(run.recipe.logging.progress, stderr_is_terminal()),
                run.settings.logging_steps) {
  const Split& split = run.inputs.split;
  hooks_.loss = micro_batch_loss(*objective_);
  hooks_.epoch_batches = [this](int64_t epoch) {
    std::vector<std::vector<int64_t>> batches;
    for (const auto& rows : plan_.epoch_batches(static_cast<int>(epoch)))
      batches.emplace_back(rows.begin(), rows.end());
    return batches;
  };
  hooks_.make_batch = [&split](const std::vector<int64_t>& rows) {
    return make_batch(split.train, std::vector<size_t>(rows.begin(), rows.end()));
  };
  if (!split.valid.empty()) {
    hooks_.evaluate = [this](const std::vector<mx::array>& params) {
      LoraAdapters a = layout_;
      a.assign(params);
      const SetLoss loss_over = [&](const std::vector<Example>& examples) {
        return evaluate(run_.model, &a, examples, run_.eval_batch_size());
      };
      EvalResult r = objective_->evaluate(loss_over, run_.inputs.split.valid);
      if (run_.recipe.evaluation.tool_calls) {
        for (auto& [name, value] : tool_call_metrics(run_, a)) r.extra[name] = value;
      }
      return r;
    };
  }
  const EvaluationSection& ev = run.recipe.evaluation;
  if (ev.tool_calls && split.valid.empty())
    spdlog::warn("evaluation.tool_calls is set but there is no validation set: no tool-call metrics");
  if (!split.valid.empty() && ev.generate_samples && ev.num_samples > 0 && run.group.is_main()) {
    hooks_.write_samples = [this](const std::vector<mx::array>& params, int64_t step) {
      write_samples(params, step);
    };
  }
  // Rank 0 shows the progress (sinks are fed there only; on the others the sink keeps the log quiet).
  hooks_.metrics_sinks.push_back(std::make_shared<ProgressSink>(
      [this](const TrainMetrics& m) { show_progress(m, run_.settings.total_steps()); }));
  if (run.recipe.logging.tensorboard)
    hooks_.metrics_sinks.push_back(std::make_shared<TensorBoardSink>(run.out / "tensorboard"));
  if (run.group.is_main()) hooks_.after_step = plot_refresh(run);  // rank 0 writes the plots
  add_test_stop(hooks_);
}

void RunHooks::write_samples(const std::vector<mx::array>& params, int64_t step) const {
  LoraAdapters a = layout_;
  a.assign(params);
  const EvaluationSection& ev = run_.recipe.evaluation;
  const std::vector<Example>& valid = run_.inputs.split.valid;
  const fs::path path = run_.out / "samples.jsonl";
  std::string lines;
  const size_t n = std::min(valid.size(), static_cast<size_t>(ev.num_samples));
  for (size_t i = 0; i < n; ++i) {
    const Example& e = valid[i];
    GenerateOptions go;
    go.max_tokens = ev.max_new_tokens;
    go.sampling = {static_cast<float>(ev.temperature), static_cast<float>(ev.top_p)};
    go.seed = run_.settings.seed + static_cast<uint64_t>(step) * 1000 + i;
    go.lora = &a;
    const std::vector<int32_t> prompt = prompt_of(e);
    const std::vector<int32_t> generated = generate(run_.model, prompt, go);
    const Tokenizer& tok = *run_.inputs.tokenizer;
    lines += nlohmann::json{{"step", step},
                            {"index", e.index},
                            {"prompt", tok.decode(prompt)},
                            {"generated", tok.decode(generated)}}
                 .dump() +
             "\n";
  }
  (void)tolerate_write_failure(
      [&] {
        AppendFile samples(path, AppendFile::Mode::Append);
        samples.append(ends_without_newline(path) ? "\n" + lines : lines);  // after a torn line
      },
      "the samples of step " + std::to_string(step) + " are not saved");
}

void RunHooks::show_progress(const TrainMetrics& m, int64_t total) {
  const int64_t steps_per_epoch = run_.settings.steps_per_epoch();
  ProgressState p;
  p.num_epochs = static_cast<int>((total + steps_per_epoch - 1) / steps_per_epoch);
  p.epoch = std::min(p.num_epochs, static_cast<int>((m.step - 1) / steps_per_epoch) + 1);
  p.step = m.step;
  p.total_steps = total;
  p.loss = m.loss;
  p.learning_rate = m.learning_rate;
  p.tokens_per_second = m.tokens_per_second;
  p.memory_gb = m.memory_gb;
  p.elapsed_s = m.time_s;
  progress_.update(p);
}

}  // namespace mlxft
