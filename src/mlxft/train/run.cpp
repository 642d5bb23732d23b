#include "mlxft/train/run.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <iostream>

#include "mlxft/chat/chat_format.h"
#include "mlxft/config/checks.h"
#include "mlxft/config/load.h"
#include "mlxft/data/batching.h"
#include "mlxft/data/dataset.h"
#include "mlxft/data/split.h"
#include "mlxft/eval/evaluate.h"
#include "mlxft/eval/generate.h"
#include "mlxft/adapters/adapter_io.h"
#include "mlxft/model/llama.h"
#include "mlxft/model/source.h"
#include "mlxft/model/weights.h"
#include "mlxft/report/data_summary.h"
#include "mlxft/report/run_report.h"
#include "mlxft/tokenizer/load.h"
#include "mlxft/train/checkpoint.h"
#include "mlxft/train/loss.h"
#include "mlxft/train/memory.h"
#include "mlxft/train/signals.h"
#include "mlxft/train/trainer.h"
#include "mlxft/util/error.h"
#include "mlxft/util/logging.h"
#include "mlxft/util/progress.h"

namespace fs = std::filesystem;
namespace mx = mlx::core;

namespace mlxft {

namespace {

DataOptions data_options(const DataSection& d) {
  DataOptions o;
  o.format = d.format == "claude" ? "conversations" : d.format;
  o.tool_format = tool_format_from_name(d.tool_format, "data.tool_format");
  o.labels = label_filter_from_name(d.labels, "data.labels");
  o.max_seq_length = d.max_seq_length;
  o.truncate = truncate_from_name(d.truncate, "data.truncate");
  o.max_bad_fraction = d.max_bad_fraction;
  o.min_examples = d.min_examples;
  return o;
}

std::optional<mx::Dtype> model_dtype(const std::string& name) {
  if (name == "auto") return std::nullopt;  // the device's default compute dtype
  return parse_dtype(name, "model.dtype");
}

LoraConfig lora_config(const LoraSection& l) {
  LoraConfig c;
  c.rank = l.rank;
  c.alpha = static_cast<float>(l.alpha);
  c.dropout = static_cast<float>(l.dropout);
  c.use_rslora = l.use_rslora;
  c.targets = l.target_modules;
  if (l.layers) c.layers = *l.layers;
  return c;
}

// Adapter parameter names in flatten() order: "<module>.lora_A", "<module>.lora_B".
std::vector<std::string> parameter_names(const LoraAdapters& a) {
  std::vector<std::string> names;
  for (const auto& [path, pair] : a.modules) {
    names.push_back(path + ".lora_A");
    names.push_back(path + ".lora_B");
  }
  return names;
}

// Token-weighted loss over every example, in order, eval_batch_size at a time, no dropout.
// Token-weighted validation loss through eval/evaluate, as the trainer's EvalSummary.
EvalSummary validation_loss(const Model& model, const LoraAdapters& adapters,
                            const std::vector<Example>& examples, int batch_size) {
  const EvalResult e = evaluate(model, &adapters, examples, batch_size);
  return {e.loss, e.perplexity, e.tokens};
}

// The prompt of an example's first trained turn: its ids up to the first trained token.
std::vector<int32_t> prompt_of(const Example& e) {
  size_t end = 0;
  while (end < e.mask.size() && e.mask[end] == 0) ++end;
  return {e.ids.begin(), e.ids.begin() + static_cast<std::ptrdiff_t>(end)};
}

void print_summary(const Recipe& r, const Model& model, const LoraAdapters& adapters, const Split& split,
                   const TrainerSettings& s, const MemoryEstimate& mem, double machine) {
  const int64_t total = model.config.parameter_count();
  const int64_t trainable = adapters.parameter_count();
  const double gb = 1e9;
  fmt::print("model:       {} ({}, {} layers, hidden {}, {})\n",
             r.model.name.empty() ? r.model.path : r.model.name, model.config.model_type,
             model.config.num_hidden_layers, model.config.hidden_size,
             mx::float32 == model.dtype ? "float32" : (mx::bfloat16 == model.dtype ? "bfloat16" : "float16"));
  fmt::print("parameters:  {} total, {} trainable ({:.4f} %), LoRA r{} alpha {} on {}\n", total, trainable,
             100.0 * static_cast<double>(trainable) / static_cast<double>(total + trainable),
             adapters.config.rank, adapters.config.alpha, fmt::join(adapters.config.targets, ","));
  fmt::print("data:        {} train, {} validation, {} test examples\n", split.train.size(),
             split.valid.size(), split.test.size());
  fmt::print(
      "steps:       {} micro-batches of {} per epoch, accumulation {}, {} optimizer steps per epoch, {} in "
      "all\n",
      s.micro_batches_per_epoch(), s.batch_size, s.accumulation_steps, s.steps_per_epoch(), s.total_steps());
  fmt::print(
      "memory:      estimated peak {:.2f} GB = weights {:.2f} + adapters/grads/optimizer {:.3f} + "
      "activations {:.2f}; machine {:.1f} GB\n",
      mem.total() / gb, mem.weights / gb, mem.adapter_state / gb, mem.activations / gb, machine / gb);
}

// Holds an exclusive lock on <out>/.lock for the rest of the process, so that two runs never write
// into the same output directory (the kernel drops the lock when the process ends, kill -9 included).
void lock_output_dir(const fs::path& out) {
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) throw Error(ErrorKind::Io, out.string(), "cannot create the output directory: " + ec.message());
  const int fd = ::open((out / ".lock").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(ErrorKind::Io, (out / ".lock").string(), "cannot create the run lock");
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    throw Error(ErrorKind::Training, out.string(), "another mlxft run is using this output directory",
                "wait for it to finish, or pick another output.output_dir");
  }
}

void prepare_output_dir(const Recipe& r, bool resuming) {
  const fs::path out(r.output.output_dir);
  std::error_code ec;
  bool non_empty = false;
  for (const auto& entry : fs::directory_iterator(out, ec)) non_empty |= entry.path().filename() != ".lock";
  if (non_empty && !resuming) {
    if (!r.output.overwrite_output_dir) {
      throw Error(
          ErrorKind::Config, "output.output_dir",
          fmt::format("{} already exists and is not empty", out.string()),
          "resume it with --resume latest, set output.overwrite_output_dir: true, or pick another directory");
    }
    for (const char* old : {"checkpoints", "final_model", "samples.jsonl"}) fs::remove_all(out / old, ec);
  }
}

}  // namespace

int run_training(const TrainRequest& req) {
  const Recipe& r = req.recipe;
  const fs::path out(r.output.output_dir);
  const fs::path model_dir(r.model.path);

  const auto tokenizer_ptr = load_tokenizer(resolve_model_source(model_dir).tokenizer_file);
  const Tokenizer& tokenizer = *tokenizer_ptr;
  const auto chat = make_chat_format("mistral_v3", tokenizer);
  const DataOptions dopt = data_options(r.data);
  Dataset data = load_dataset(r.data.dataset_path, *chat, dopt);
  for (const auto& w : data.report.warnings) spdlog::debug("{}", w);
  if (data.report.skipped_count() > 0) {
    spdlog::warn("{}: {} records skipped (see mlxft data check)", r.data.dataset_path,
                 data.report.skipped_count());
  }
  Split split;
  if (!r.data.valid_path.empty()) {
    DataOptions vopt = dopt;
    vopt.min_examples = 1;
    split.train = std::move(data.examples);
    split.valid = load_dataset(r.data.valid_path, *chat, vopt).examples;
  } else {
    split = split_dataset(std::move(data.examples), r.data.valid_split,
                          r.data.test_path.empty() ? r.data.test_split : 0.0, static_cast<uint64_t>(r.data.seed));
  }
  if (!r.data.test_path.empty()) {
    DataOptions topt = dopt;
    topt.min_examples = 1;
    split.test = load_dataset(r.data.test_path, *chat, topt).examples;
  }

  Model model = load_model(model_dir, model_dtype(r.model.dtype));
  LoraAdapters adapters;
  if (!req.init_adapter.empty()) {
    adapters = load_adapter(req.init_adapter);
    check_adapter_fits(adapters, model.config, req.init_adapter);
    spdlog::info("starting from adapter {} (r{}, alpha {})", req.init_adapter, adapters.config.rank,
                 adapters.config.alpha);
    adapters.config.dropout = static_cast<float>(r.lora.dropout);
  } else {
    adapters = init_lora(model.config, lora_config(r.lora), static_cast<uint64_t>(r.training.seed));
  }

  TrainerSettings s;
  s.num_train_examples = static_cast<int64_t>(split.train.size());
  s.batch_size = r.training.batch_size;
  s.accumulation_steps = r.training.gradient_accumulation_steps;
  s.num_epochs = r.training.num_epochs;
  s.max_steps = r.training.max_steps;
  s.seed = static_cast<uint64_t>(r.training.seed);
  s.optimizer = {r.training.optimizer,  r.training.weight_decay, r.training.adam_beta1,
                 r.training.adam_beta2, r.training.adam_epsilon, r.training.sgd_momentum};
  s.lr_scheduler = r.training.lr_scheduler;
  s.learning_rate = r.training.learning_rate;
  s.warmup_steps = r.training.warmup_steps;
  s.warmup_ratio = r.training.warmup_ratio;
  s.min_lr_ratio = r.training.min_lr_ratio;
  s.max_grad_norm = r.training.max_grad_norm;
  s.logging_steps = r.training.logging_steps;
  s.eval_steps = r.training.eval_steps;
  s.save_steps = r.training.save_steps;
  s.save_total_limit = r.output.save_total_limit;
  s.save_best = r.output.save_best;
  s.early_stopping_patience = r.evaluation.early_stopping_patience;
  s.early_stopping_threshold = r.evaluation.early_stopping_threshold;
  s.max_consecutive_nan = r.advanced.max_consecutive_nan;
  s.loss_rise_warning = r.advanced.loss_rise_warning;
  s.grad_norm_warning_high = r.advanced.grad_norm_warning_high;
  s.grad_norm_warning_low = r.advanced.grad_norm_warning_low;
  s.output_dir = out;
  s.metrics_file = r.logging.jsonl;
  s.config_yaml = recipe_to_yaml(r);

  if (split.train.empty()) {
    throw Error(ErrorKind::Data, r.data.dataset_path, "no training example after the split",
                "lower data.valid_split / data.test_split or add data");
  }
  int max_len = 0;
  for (const auto& e : split.train) max_len = std::max(max_len, static_cast<int>(e.ids.size()));
  const MemoryEstimate mem = estimate_training_memory(
      model.config, static_cast<int>(mx::size_of(model.dtype)), adapters.parameter_count(), s.batch_size,
      max_len, r.training.gradient_checkpointing);
  const double machine = machine_memory_bytes();
  print_summary(r, model, adapters, split, s, mem, machine);
  if (auto warning = check_memory_fit(r, mem.total() / 1e9, machine / 1e9)) spdlog::warn("{}", *warning);
  for (const auto& w : recipe_warnings(r, s.total_steps())) spdlog::warn("{}", w);

  const bool has_valid = !split.valid.empty();
  const int eval_batch = std::max(1, r.evaluation.eval_batch_size);
  if (req.eval_only) {
    if (!req.resume.empty()) {
      CheckpointStore store(out / "checkpoints");
      auto found = req.resume == "latest"
                       ? store.load_latest_valid()
                       : std::make_optional(std::make_pair(StoredCheckpoint{0, req.resume},
                                                           CheckpointStore::load(req.resume)));
      if (!found)
        throw Error(ErrorKind::Checkpoint, store.root().string(), "no valid checkpoint to evaluate");
      std::vector<mx::array> flat;
      for (const auto& name : parameter_names(adapters)) {
        auto it = found->second.adapters.find(name);
        if (it == found->second.adapters.end()) {
          throw Error(ErrorKind::Checkpoint, found->first.dir.string(),
                      "the checkpoint has no adapter " + name,
                      "evaluate with the LoRA settings the checkpoint was trained with");
        }
        flat.push_back(it->second);
      }
      adapters.assign(flat);
    }
    if (!has_valid) throw Error(ErrorKind::Data, "data.valid_split", "no validation example to evaluate on");
    const EvalSummary e = validation_loss(model, adapters, split.valid, eval_batch);
    fmt::print("validation:  loss {:.4f}, perplexity {:.3f}, {} trained tokens\n", e.loss, e.perplexity,
               e.tokens);
    return 0;
  }

  lock_output_dir(out);
  prepare_output_dir(r, !req.resume.empty());
  setup_logging(r.logging.level, r.logging.log_file.empty() ? fs::path() : out / r.logging.log_file);
  write_effective_config(r, out / "effective_config.yaml");
  write_data_summary(out, summarize_data(data.report, static_cast<int64_t>(split.train.size()),
                                         static_cast<int64_t>(split.valid.size()),
                                         static_cast<int64_t>(split.test.size())));

  const BatchPlan plan(split.train, s.batch_size, s.seed);
  const LoraAdapters shape = adapters;  // module layout and config; arrays replaced per call
  const bool checkpoint_layers = r.training.gradient_checkpointing;
  const float smoothing = static_cast<float>(r.training.label_smoothing);

  TrainerHooks hooks;
  hooks.loss = [&](const std::vector<mx::array>& params, const Batch& b, const mx::array& key) {
    LoraAdapters a = shape;
    a.assign(params);
    ForwardOptions fo;
    fo.lora = &a;
    fo.train = true;
    fo.dropout_key = key;
    fo.checkpoint_layers = checkpoint_layers;
    return masked_cross_entropy(forward(model, b.inputs, fo), b.targets, b.mask, smoothing);
  };
  hooks.epoch_batches = [&plan](int64_t epoch) {
    std::vector<std::vector<int64_t>> out_batches;
    for (const auto& rows : plan.epoch_batches(static_cast<int>(epoch)))
      out_batches.emplace_back(rows.begin(), rows.end());
    return out_batches;
  };
  hooks.make_batch = [&split](const std::vector<int64_t>& rows) {
    return make_batch(split.train, std::vector<size_t>(rows.begin(), rows.end()));
  };
  if (has_valid) {
    hooks.evaluate = [&](const std::vector<mx::array>& params) {
      LoraAdapters a = shape;
      a.assign(params);
      return validation_loss(model, a, split.valid, eval_batch);
    };
  }
  if (has_valid && r.evaluation.generate_samples && r.evaluation.num_samples > 0) {
    hooks.write_samples = [&](const std::vector<mx::array>& params, int64_t step) {
      LoraAdapters a = shape;
      a.assign(params);
      std::ofstream samples(out / "samples.jsonl", std::ios::app);
      const size_t n = std::min(split.valid.size(), static_cast<size_t>(r.evaluation.num_samples));
      for (size_t i = 0; i < n; ++i) {
        const Example& e = split.valid[i];
        GenerateOptions go;
        go.max_tokens = r.evaluation.max_new_tokens;
        go.sampling = {static_cast<float>(r.evaluation.temperature), static_cast<float>(r.evaluation.top_p)};
        go.seed = s.seed + static_cast<uint64_t>(step) * 1000 + i;
        go.lora = &a;
        const std::vector<int32_t> prompt = prompt_of(e);
        const std::vector<int32_t> generated = generate(model, prompt, go);
        samples << nlohmann::json{{"step", step},
                                  {"index", e.index},
                                  {"prompt", tokenizer.decode(prompt)},
                                  {"generated", tokenizer.decode(generated)}}
                       .dump()
                << "\n";
      }
    };
  }

  ProgressReporter progress(std::cerr, progress_mode(r.logging.progress, stderr_is_terminal()),
                            s.logging_steps);
  const int64_t steps_per_epoch = s.steps_per_epoch();
  hooks.on_train_log = [&](const TrainMetrics& m, int64_t total) {
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
    progress.update(p);
  };

  // logging.plots_per_epoch > 0: refresh the plots and report that many times per epoch.
  if (r.logging.plots && r.logging.plots_per_epoch > 0) {
    const int64_t every = std::max<int64_t>(1, s.steps_per_epoch() / r.logging.plots_per_epoch);
    hooks.after_step = [&out, every](int64_t step) {
      if (step % every != 0) return;
      try {
        (void)build_run_report(out, run_report_options(out));
      } catch (const std::exception& e) {
        spdlog::warn("plots at step {} were not written: {}", step, e.what());
      }
    };
  }

  Trainer trainer(s, hooks, parameter_names(adapters), adapters.flatten());
  StopSignals stop;
  const TrainOutcome outcome = trainer.run(req.resume, &stop);
  progress.finish();
  if (outcome.stopped_by_signal) {
    fmt::print(
        "\nstopped by signal {} at step {}; checkpoint {}\nresume with: mlxft train --config {} --resume "
        "latest\n",
        stop.signal_number(), outcome.step, outcome.last_checkpoint.string(),
        req.recipe_path.empty() ? "RECIPE.yaml" : req.recipe_path);
    return stop.exit_code();
  }

  adapters.assign(trainer.params());
  save_adapter_peft(adapters, out / "final_model" / "peft", r.model.path);
  save_adapter_mlx(adapters, out / "final_model" / "mlx", model.config.num_hidden_layers);
  try {
    const RunReport report = build_run_report(out, run_report_options(out));
    spdlog::info("report: {}", report.html.string());
  } catch (const std::exception& e) {
    spdlog::warn("the run report was not written: {}", e.what());
  }
  if (!split.test.empty()) {
    const EvalResult t = evaluate(model, &adapters, split.test, eval_batch);
    fmt::print("test: loss {:.4f}, perplexity {:.3f} on {} examples ({} trained tokens)\n", t.loss, t.perplexity,
               split.test.size(), t.tokens);
  }
  fmt::print("done: {} optimizer steps{}; adapters in {} (peft/, mlx/)\n", outcome.step,
             outcome.early_stopped ? " (early stopping)" : "", (out / "final_model").string());
  if (outcome.last_eval) {
    fmt::print("final validation loss {:.4f} (perplexity {:.3f}); best {:.4f} at step {}\n",
               outcome.last_eval->loss, outcome.last_eval->perplexity,
               outcome.best_eval_loss.value_or(std::nan("")), outcome.best_step.value_or(0));
  }
  return 0;
}

}  // namespace mlxft
