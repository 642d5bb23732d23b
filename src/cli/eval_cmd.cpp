// `mlxft eval`: the loss and perplexity of a model, with or without a LoRA
// adapter (PEFT or mlx-lm directory), on a JSONL data file rendered exactly as
// for training. Prints examples, trained tokens, loss (token-weighted mean NLL)
// and perplexity; --per-example writes {"index", "nll_sum", "tokens"} per
// example in input order, through a temporary file renamed into place.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "cli/data_options.h"
#include "cli/model_session.h"
#include "mlxft/data/dataset.h"
#include "mlxft/eval/evaluate.h"
#include "mlxft/model/llama.h"
#include "mlxft/model/weights.h"
#include "mlxft/util/durable_file.h"
#include "mlxft/util/error.h"

namespace fs = std::filesystem;

namespace mlxft::cli {
namespace {

struct EvalArgs {
  std::string model, adapter, data, per_example, tokenizer, dtype;
  int batch_size = 4;
  DataFlags data_flags;
};

void write_per_example(const fs::path& out, const EvalResult& r) {
  std::string lines;
  for (const auto& e : r.per_example) {
    lines += nlohmann::json{{"index", e.index}, {"nll_sum", e.nll_sum}, {"tokens", e.tokens}}.dump() + "\n";
  }
  write_file_atomic(out, lines);
}

void run_eval(const EvalArgs& a) {
  const ModelSession session =
      load_model_session(a.model, a.tokenizer, a.dtype, a.adapter, a.data_flags.chat_format);
  const Model& model = session.model;
  const std::optional<LoraAdapters>& adapters = session.adapters;

  const Dataset ds = load_dataset(a.data, *session.chat, resolve_data_options(a.data_flags));
  if (ds.report.skipped_count() > 0) {
    spdlog::warn("{}: skipped {} invalid records (mlxft data check lists them)", a.data,
                 ds.report.skipped_count());
  }

  const EvalResult r = evaluate(model, adapters ? &*adapters : nullptr, ds.examples, a.batch_size);
  if (!a.per_example.empty()) write_per_example(a.per_example, r);
  std::cout << fmt::format(
      "examples        {}\ntrained tokens  {}\nloss            {:.6f}\nperplexity      {:.4f}\n",
      r.per_example.size(), r.tokens, r.loss, r.perplexity);
}

}  // namespace

void add_eval_command(CLI::App& app, const GlobalOptions& /*global*/) {
  auto a = std::make_shared<EvalArgs>();
  a->data_flags.options.min_examples = 1;  // evaluation sets are often small
  CLI::App* cmd =
      app.add_subcommand("eval", "Loss and perplexity of a model (and LoRA adapter) on a data file");
  cmd->add_option("--model", a->model, "Model: HF or MLX-quantized directory, or a .gguf file")
      ->required()
      ->check(CLI::ExistingPath);
  cmd->add_option("--adapter", a->adapter, "LoRA adapter directory (PEFT or mlx-lm)");
  cmd->add_option("--data", a->data, "JSONL data file")->required();
  cmd->add_option("--per-example", a->per_example,
                  "Write {index, nll_sum, tokens} per example to this JSONL");
  cmd->add_option("--batch-size", a->batch_size, "Examples per forward pass")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--dtype", a->dtype,
                  "Compute dtype: float32 | bfloat16 | float16 (default: float32 on CPU)");
  cmd->add_option("--tokenizer", a->tokenizer, "tokenizer.model (default: the model directory's)")
      ->check(CLI::ExistingFile);
  add_data_options(cmd, a->data_flags);
  cmd->callback([a] { run_eval(*a); });
}

}  // namespace mlxft::cli
