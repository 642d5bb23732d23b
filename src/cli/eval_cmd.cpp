// `mlxft eval`: the loss and perplexity of a model, with or without a LoRA
// adapter (PEFT or mlx-lm directory), on a JSONL data file rendered exactly as
// for training. Prints examples, trained tokens, loss (token-weighted mean NLL)
// and perplexity; --per-example writes {"index", "nll_sum", "tokens"} per
// example in input order, through a temporary file renamed into place.
// With --tool-calls it evaluates tool calls instead (eval/tool_eval.h): a table
// of the metrics, --out EVAL.json with them, --per-example the mismatched turns
// {"index", "turn", "mistake", "prompt_tokens", "prompt_tail", "expected", "got", "generated", ...}. The tool catalogue
// offered to conversations without tools of their own is --tools FILE, else the adapter
// directory's tools.json (what a run trained with data.tools saved), else none; tool-call prompts
// get the whole catalogue, or with --tools-per-prompt N each conversation's subset of N (its called
// tools plus random others, as in training); with
// --tool-calls every conversation is evaluated whatever its length (--max-seq-length does not
// drop any). --ignore-argument-keys K1,K2 leaves those argument keys out of the scores.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/data_options.h"
#include "cli/model_path_check.h"
#include "cli/model_session.h"
#include "mlxft/data/dataset.h"
#include "mlxft/data/tool_catalogue.h"
#include "mlxft/eval/evaluate.h"
#include "mlxft/eval/tool_eval.h"
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
  int tool_batch = 8;
  DataFlags data_flags;
  bool tool_calls = false, constrain_tools = false;
  int max_examples = 0, max_new_tokens = 256;
  std::string out, constrain_tools_from;
  std::vector<std::string> ignore_argument_keys;
};

// The data options; with --tool-calls and no --tools, the adapter's tools.json when it has one.
DataOptions eval_data_options(const EvalArgs& a) {
  DataOptions o = resolve_data_options(a.data_flags);
  if (!a.tool_calls) return o;
  const fs::path saved = adapter_catalogue(a.adapter);
  if (!o.tool_catalogue && !saved.empty()) {
    spdlog::info("tool catalogue: {} (the adapter's)", saved.string());
    o.tool_catalogue = std::make_shared<const OrderedJson>(load_tool_catalogue(saved));
  }
  o.max_seq_length = std::numeric_limits<int>::max();  // every conversation is evaluated
  return o;
}

void write_per_example(const fs::path& out, const EvalResult& r) {
  std::string lines;
  for (const auto& e : r.per_example) {
    lines += nlohmann::json{{"index", e.index}, {"nll_sum", e.nll_sum}, {"tokens", e.tokens}}.dump() + "\n";
  }
  write_file_atomic(out, lines);
}

std::string dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);  // model text may be any bytes
}

// The last `bytes` bytes of s, not starting inside a UTF-8 character.
std::string tail(const std::string& s, size_t bytes) {
  size_t from = s.size() > bytes ? s.size() - bytes : 0;
  while (from < s.size() && (static_cast<unsigned char>(s[from]) & 0xC0) == 0x80) ++from;
  return s.substr(from);
}

nlohmann::json eval_json(const ToolEvalResult& r, size_t examples, const EvalArgs& a) {
  const ToolCallMetrics& m = r.metrics;
  return {{"turns", m.turns},
          {"call_turns", m.call_turns},
          {"no_call_turns", m.no_call_turns},
          {"model_call_turns", m.model_call_turns},
          {"name_accuracy", m.name_accuracy},
          {"arguments_exact", m.arguments_exact},
          {"valid_call_rate", m.valid_call_rate},
          {"no_call_accuracy", m.no_call_accuracy},
          {"arguments_match", m.arguments_match},
          {"argument_accuracy", m.argument_accuracy},
          {"stated",  // the same two over what the conversation states (eval/tool_eval.h)
           {{"call_turns", m.stated_call_turns},
            {"arguments_match", m.stated_arguments_match},
            {"argument_pairs", m.stated_pairs},
            {"argument_accuracy", m.stated_argument_accuracy}}},
          {"mistakes",
           {{"missed_call", m.missed_calls},
            {"unparsed_call", m.unparsed_calls},
            {"wrong_tool", m.wrong_tools},
            {"wrong_arguments", m.wrong_arguments},
            {"unwanted_call", m.unwanted_calls}}},
          {"ignored_argument_keys", a.ignore_argument_keys},
          {"constrained", a.constrain_tools || !a.constrain_tools_from.empty()},
          {"examples", examples},
          {"max_new_tokens", a.max_new_tokens},
          {"generated_tokens", r.generated_tokens},
          {"seconds", r.generate_seconds},
          {"seconds_per_turn", m.turns == 0 ? 0.0 : r.generate_seconds / static_cast<double>(m.turns)}};
}

void write_mismatches(const fs::path& out, const ToolEvalResult& r, const Tokenizer& tokenizer,
                      const ArgumentScoring& scoring) {
  std::string lines;
  for (const auto& o : r.outcomes) {
    if (o.expected_call ? exact_match(o) : !o.got.made_call) continue;
    const std::string prompt_tail = tail(text_keeping_controls(tokenizer, o.prompt), 400);
    lines += dump({{"index", o.example_index},
                   {"turn", o.message_index},
                   {"mistake", mistake_name(turn_mistake(o, scoring))},
                   {"prompt_tokens", o.prompt.size()},
                   {"prompt_tail", prompt_tail},
                   {"expected", o.expected_call ? nlohmann::json::parse(calls_json(o.expected).dump())
                                                : nlohmann::json()},
                   {"got", nlohmann::json::parse(calls_json(o.got.calls).dump())},
                   {"made_call", o.got.made_call},
                   {"valid", o.got.valid},
                   {"name_match", name_matches(o)},
                   {"generated", o.generated}}) +
             "\n";
  }
  write_file_atomic(out, lines);
}

void print_table(const ToolEvalResult& r) {
  const ToolCallMetrics& m = r.metrics;
  std::cout << fmt::format("{:<19} {:>8}  {}\n", "metric", "value", "count");
  const auto row = [](const char* name, double v, int64_t part, int64_t whole) {
    std::cout << fmt::format("{:<19} {:>8.3f}  {}/{}\n", name, v, part, whole);
  };
  std::cout << fmt::format("{:<19} {:>8}\n{:<19} {:>8}\n", "turns", m.turns, "call turns", m.call_turns);
  row("name_accuracy", m.name_accuracy, m.name_correct, m.call_turns);
  row("arguments_exact", m.arguments_exact, m.exact, m.call_turns);
  row("valid_call_rate", m.valid_call_rate, m.valid_calls, m.model_call_turns);
  row("no_call_accuracy", m.no_call_accuracy, m.no_call_correct, m.no_call_turns);
  row("arguments_match", m.arguments_match, m.arguments_matched, m.call_turns);
  row("argument_accuracy", m.argument_accuracy, m.argument_pairs_matched, m.argument_pairs);
  row("stated_args_match", m.stated_arguments_match, m.stated_arguments_matched, m.stated_call_turns);
  row("stated_arg_accuracy", m.stated_argument_accuracy, m.stated_pairs_matched, m.stated_pairs);
  std::cout << fmt::format("{:<19} missed call {}, unparsed {}, wrong tool {}, wrong arguments {}, unwanted call {}\n",
                           "mistakes (turns)", m.missed_calls, m.unparsed_calls, m.wrong_tools, m.wrong_arguments,
                           m.unwanted_calls);
  std::cout << fmt::format("{:<19} {:>8.2f}  {} tokens\n", "seconds per turn",
                           m.turns == 0 ? 0.0 : r.generate_seconds / static_cast<double>(m.turns),
                           r.generated_tokens);
}

void run_tool_eval(const EvalArgs& a, const ModelSession& session, const Dataset& ds,
                   std::shared_ptr<const OrderedJson> catalogue) {
  ToolEvalOptions o;
  o.scoring.ignore_keys.insert(a.ignore_argument_keys.begin(), a.ignore_argument_keys.end());
  o.catalogue = std::move(catalogue);
  o.keep_subsets = a.data_flags.options.tools_per_prompt > 0;
  o.constrain = a.constrain_tools || !a.constrain_tools_from.empty();
  if (!a.constrain_tools_from.empty())
    o.constraint_catalogue = std::make_shared<const OrderedJson>(load_tool_catalogue(a.constrain_tools_from));
  o.max_examples = a.max_examples;
  o.max_new_tokens = a.max_new_tokens;
  o.batch_size = a.tool_batch;
  o.lora = session.adapters ? &*session.adapters : nullptr;
  o.progress = [](size_t done, size_t total) {
    std::cerr << fmt::format("\rturns {}/{}", done, total) << (done == total ? "\n" : "") << std::flush;
  };
  const ToolEvalResult r = evaluate_tool_calls(session.model, *session.chat, ds.examples, o);
  const size_t examples = a.max_examples > 0
                              ? std::min(ds.examples.size(), static_cast<size_t>(a.max_examples))
                              : ds.examples.size();
  if (!a.out.empty()) write_file_atomic(a.out, dump(eval_json(r, examples, a)) + "\n");
  if (!a.per_example.empty()) write_mismatches(a.per_example, r, *session.tokenizer, o.scoring);
  print_table(r);
}

void run_eval(const EvalArgs& a) {
  const ModelSession session =
      load_model_session(a.model, a.tokenizer, a.dtype, a.adapter, a.data_flags.chat_format);
  const Model& model = session.model;
  const std::optional<LoraAdapters>& adapters = session.adapters;

  const DataOptions options = eval_data_options(a);
  const Dataset ds = load_dataset(a.data, *session.chat, options);
  if (ds.report.skipped_count() > 0) {
    spdlog::warn("{}: skipped {} invalid records (mlxft data check lists them)", a.data,
                 ds.report.skipped_count());
  }

  if (a.tool_calls) return run_tool_eval(a, session, ds, options.tool_catalogue);
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
  CLI::App* cmd = app.add_subcommand(
      "eval", "Loss and perplexity of a model (and LoRA adapter) on a data file, or its tool calls");
  cmd->add_option("--model", a->model, "Model: HF or MLX-quantized directory, or a .gguf file")
      ->required()
      ->check(existing_model_path());
  cmd->add_option("--adapter", a->adapter, "LoRA adapter directory (PEFT or mlx-lm)");
  cmd->add_option("--data", a->data, "JSONL data file")->required();
  cmd->add_option("--per-example", a->per_example,
                  "Write {index, nll_sum, tokens} per example to this JSONL (with --tool-calls: the "
                  "mismatched turns)");
  cmd->add_flag("--tool-calls", a->tool_calls,
                "Evaluate tool calls: generate each assistant turn and compare its calls with the data's");
  cmd->add_option("--max-examples", a->max_examples, "With --tool-calls: the first N conversations (0: all)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-new-tokens", a->max_new_tokens, "With --tool-calls: the most tokens per turn")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--out", a->out, "With --tool-calls: write the metrics to this JSON file");
  cmd->add_option("--ignore-argument-keys", a->ignore_argument_keys,
                  "With --tool-calls: argument keys left out of the scores (e.g. context)")
      ->delimiter(',');
  cmd->add_flag("--constrain-tools", a->constrain_tools,
                "With --tool-calls: once the model opens a call, keep it well formed: a catalogue name and "
                "arguments that fit the tool's schema");
  cmd->add_option("--constrain-tools-from", a->constrain_tools_from,
                  "With --tool-calls: --constrain-tools with this catalogue's names and schemas, the prompts "
                  "unchanged (for a model trained without a catalogue in its prompts)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--tool-batch", a->tool_batch, "With --tool-calls: turns generated together")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--batch-size", a->batch_size, "Examples per forward pass")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  add_session_options(cmd, a->dtype, a->tokenizer);
  add_data_options(cmd, a->data_flags);
  cmd->callback([a] { run_eval(*a); });
}

}  // namespace mlxft::cli
