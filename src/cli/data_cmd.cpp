// `mlxft data check`, `mlxft data render`, `mlxft data tools` and `mlxft data convert`: inspect a training
// file before training. tools infers a tool catalogue from every call in the data (data/tool_catalogue.h) and
// writes it as a JSON list (to --out through a temporary file, or to standard output). check prints a
// readable report (records, skipped with reasons and line numbers, labels, formats, tool calls, token
// lengths, trained tokens, duplicates, padding) and fails when the data is unusable; render writes one JSON
// line per usable example ({"index", "label", "ids", "mask"}) in input order, through a temporary file
// renamed into place. convert rewrites a file in another record shape (data/convert.h).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "cli/commands.h"
#include "cli/data_options.h"
#include "mlxft/chat/model_format.h"
#include "mlxft/data/batching.h"
#include "mlxft/data/convert.h"
#include "mlxft/data/dataset.h"
#include "mlxft/data/records.h"
#include "mlxft/data/tool_catalogue.h"
#include "mlxft/model/source.h"
#include "mlxft/tokenizer/load.h"
#include "mlxft/util/durable_file.h"
#include "mlxft/util/error.h"

namespace mlxft::cli {

namespace {

struct DataArgs {
  std::string data, model, tokenizer, out;
  DataFlags flags;
  int batch_size = 2;
  bool verbose = false;
};

void add_common_options(CLI::App* cmd, DataArgs& a) {
  cmd->add_option("--data", a.data, "JSONL data file")->required();
  auto* model = cmd->add_option("--model", a.model, "Model directory or .gguf file (its tokenizer is used)");
  auto* tok = cmd->add_option("--tokenizer", a.tokenizer, "tokenizer.model, tokenizer.json or .gguf");
  model->excludes(tok);
  add_data_options(cmd, a.flags);
}

std::unique_ptr<Tokenizer> tokenizer_of(const DataArgs& a) {
  if (!a.tokenizer.empty()) return load_tokenizer(a.tokenizer);
  if (!a.model.empty()) return load_tokenizer(resolve_model_source(a.model).tokenizer_file);
  throw Error(ErrorKind::Usage, "--model / --tokenizer", "no tokenizer given",
              "pass --model DIR or FILE.gguf, or --tokenizer PATH");
}

// --chat-format over `tok`; "auto" reads the chat template of --model (a bare --tokenizer has none:
// a SentencePiece one with [INST] control tokens is Mistral v3).
std::unique_ptr<ChatFormat> chat_of(const DataArgs& a, const Tokenizer& tok) {
  ModelSource source;
  if (!a.model.empty()) {
    source = resolve_model_source(a.model);
  } else {
    source.tokenizer_file = a.tokenizer;
  }
  return chat_format_for_model(a.flags.chat_format, tok, source, "--chat-format");
}

int64_t percentile(std::vector<int64_t> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto k = static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(k, v.size() - 1)];
}

void print_report(const DataReport& r, const DataOptions& o, double padding, int batch_size, bool verbose) {
  auto& out = std::cout;
  out << fmt::format("data:       {}\n", r.file);
  out << fmt::format("format:     {}, {} (tool calls: {})\n", r.format,
                     o.format == "auto" ? "detected" : "as --format says",
                     o.tool_format == ToolFormat::Native ? "native" : "text");
  out << fmt::format("records:    {}\n", r.records);
  out << fmt::format("usable:     {} (label filter: {})\n", r.usable,
                     o.labels == LabelFilter::All
                         ? "all"
                         : (o.labels == LabelFilter::Desirable ? "desirable" : "undesirable"));
  out << fmt::format("held out:   {} (valid records the label filter leaves out)\n", r.held_out);
  out << fmt::format("labels:     {} desirable, {} undesirable, {} unlabeled\n", r.label_true, r.label_false,
                     r.label_none);
  if (r.with_context > 0)
    out << fmt::format("context:    {} records carry a context object (not rendered)\n", r.with_context);
  out << fmt::format(
      "skipped:    {} ({:.1f} %, limit {:.1f} %)\n", r.skipped_count(),
      r.records ? 100.0 * static_cast<double>(r.skipped_count()) / static_cast<double>(r.records) : 0.0,
      100.0 * o.max_bad_fraction);
  for (const auto& [kind, n] : r.skip_reasons) out << fmt::format("  {:>5}  {}\n", n, kind);
  for (size_t i = 0; i < std::min<size_t>(5, r.skipped.size()); ++i) {
    out << fmt::format("  {}:{}: {}\n", r.file, r.skipped[i].line, r.skipped[i].reason);
  }
  std::string calls;
  for (const auto& [n, count] : r.tool_calls_per_record) calls += fmt::format(" {}:{}", n, count);
  out << fmt::format("tool calls per record (calls:records):{}\n", calls);
  out << fmt::format(
      "tool calls: {} native, {} kept as text, {} prose segments before a native call left out\n",
      r.native_calls, r.text_calls, r.dropped_prose);
  if (r.malformed_calls > 0) {
    out << fmt::format("            {} plain-text calls have arguments that are not a JSON object\n",
                       r.malformed_calls);
  }
  out << fmt::format("tokens:     min {} / median {} / p95 {} / max {} (usable examples)\n",
                     percentile(r.lengths, 0.0), percentile(r.lengths, 0.5), percentile(r.lengths, 0.95),
                     percentile(r.lengths, 1.0));
  out << fmt::format("trained:    {} tokens\n", r.trained_tokens);
  out << fmt::format("too long:   {} over max_seq_length {} ({})\n", r.too_long + r.truncated,
                     o.max_seq_length, o.truncate == Truncate::Drop ? "dropped" : "cut at the end");
  out << fmt::format("duplicates: {}\n", r.duplicates.size());
  out << fmt::format("padding:    {:.1f} % at batch size {} (length-grouped, multiple of 8)\n",
                     100.0 * padding, batch_size);
  for (const auto& w : r.warnings) out << "warning:    " << w << "\n";
  if (!r.record_warnings.empty()) {
    out << fmt::format("record notes: {}\n", r.record_warnings.size());
    const size_t shown = verbose ? r.record_warnings.size() : std::min<size_t>(5, r.record_warnings.size());
    for (size_t i = 0; i < shown; ++i) out << "  " << r.record_warnings[i] << "\n";
    if (shown < r.record_warnings.size()) {
      out << fmt::format("  ... {} more (--verbose lists all)\n", r.record_warnings.size() - shown);
    }
  }
  out.flush();
}

void run_check(DataArgs& a) {
  const auto options = resolve_data_options(a.flags);
  const auto tok = tokenizer_of(a);
  const auto chat = chat_of(a, *tok);
  const auto ds = load_dataset_unchecked(a.data, *chat, options);
  std::cout << fmt::format("chat:       {} ({}, {})\n", chat->name(), tok->kind(), tok->source());
  const double padding =
      ds.examples.empty() ? 0.0 : BatchPlan(ds.examples, a.batch_size, 0).padding_fraction();
  print_report(ds.report, options, padding, a.batch_size, a.verbose);
  check_dataset_usable(ds.report, options);
  std::cout << "ok: the data is usable\n";
}

void run_render(DataArgs& a) {
  const auto options = resolve_data_options(a.flags);
  const auto tok = tokenizer_of(a);
  const auto chat = chat_of(a, *tok);
  const auto ds = load_dataset(a.data, *chat, options);
  const std::filesystem::path out(a.out);
  std::ostringstream lines;
  for (const auto& ex : ds.examples) {
    lines << "{\"index\": " << ex.index
          << ", \"label\": " << (ex.label ? (*ex.label ? "true" : "false") : "null") << ", \"ids\": [";
    for (size_t i = 0; i < ex.ids.size(); ++i) lines << (i ? ", " : "") << ex.ids[i];
    lines << "], \"mask\": [";
    for (size_t i = 0; i < ex.mask.size(); ++i) lines << (i ? ", " : "") << int{ex.mask[i]};
    lines << "]}\n";
  }
  write_file_atomic(out, lines.str());
  spdlog::info("wrote {} examples to {}", ds.examples.size(), out.string());
}

struct ToolsArgs {
  std::string data, out;
  bool compact = false;
  DataFlags flags;
};

void run_tools(const ToolsArgs& a) {
  const auto options = resolve_data_options(a.flags);
  DataReport report;
  const auto conversations = read_conversations(a.data, options, &report);
  OrderedJson catalogue = infer_tool_catalogue(conversations);
  if (a.compact) catalogue = compact_tool_catalogue(catalogue);
  if (catalogue.empty()) {
    throw Error(
        ErrorKind::Data, a.data, "no tool call found in the data, so there is no tool to describe",
        "check the file with 'mlxft data check' (calls are native tool_calls or seed 'tool_call:' blocks)");
  }
  const std::string text = catalogue.dump(2) + "\n";
  spdlog::info("{} tools inferred from {} of {} records ({} skipped)", catalogue.size(), conversations.size(),
               report.records, report.skipped_count());
  if (a.out.empty()) {
    std::cout << text << std::flush;
    return;
  }
  write_file_atomic(a.out, text);
  spdlog::info("wrote {}", a.out);
}

struct ConvertArgs {
  std::string data, out, to;
  DataFlags flags;
};

// Every usable record (all labels) as a record of --to, in input order; a record the target
// cannot express is left out with its reason. Fails when nothing could be converted.
void run_convert(const ConvertArgs& a) {
  DataOptions options = resolve_data_options(a.flags);
  options.labels = LabelFilter::All;
  DataReport report;
  const auto conversations = read_conversations(a.data, options, &report);
  std::ostringstream lines;
  int64_t written = 0;
  std::vector<std::string> refused;
  for (size_t i = 0; i < conversations.size(); ++i) {
    try {
      lines << conversation_to_record(conversations[i], a.to).dump() << "\n";
      ++written;
    } catch (const RecordError& e) {
      refused.push_back(fmt::format("usable record {}: {}", i + 1, e.what()));
    }
  }
  std::cerr << fmt::format(
      "{}: {} records, format {} ({}); {} written as {}, {} skipped as invalid, {} not "
      "expressible as {}\n",
      a.data, report.records, report.format, options.format == "auto" ? "detected" : "as --format says",
      written, a.to, report.skipped_count(), refused.size(), a.to);
  for (size_t i = 0; i < std::min<size_t>(5, report.skipped.size()); ++i)
    std::cerr << fmt::format("  {}:{}: {}\n", a.data, report.skipped[i].line, report.skipped[i].reason);
  for (size_t i = 0; i < std::min<size_t>(5, refused.size()); ++i) std::cerr << "  " << refused[i] << "\n";
  if (written == 0) {
    throw Error(ErrorKind::Data, a.data, "no record could be converted to " + a.to,
                "check the file with 'mlxft data check'; see the reasons above");
  }
  write_file_atomic(a.out, lines.str());
  spdlog::info("wrote {} records to {}", written, a.out);
}

}  // namespace

void add_data_command(CLI::App& app, const GlobalOptions& /*global*/) {
  auto* data = app.add_subcommand("data", "Inspect and render training data");
  data->require_subcommand(1);
  auto args = std::make_shared<DataArgs>();

  auto* check =
      data->add_subcommand("check", "Validate a data file and print a report (non-zero exit if unusable)");
  add_common_options(check, *args);
  check->add_option("--batch-size", args->batch_size, "Batch size for the padding estimate")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  check->add_flag("--verbose", args->verbose, "List every record note, not only the first 5");
  check->callback([args] { run_check(*args); });

  auto* render =
      data->add_subcommand("render", "Write token ids and loss masks, one JSON line per usable example");
  add_common_options(render, *args);
  render->add_option("--out", args->out, "Output JSONL")->required();
  render->callback([args] { run_render(*args); });

  auto tools_args = std::make_shared<ToolsArgs>();
  auto* tools = data->add_subcommand(
      "tools",
      "Infer a tool catalogue (names and JSON schemas of the arguments) from every call in the data");
  tools->add_option("data", tools_args->data, "JSONL data file")->required();
  tools->add_option("--out", tools_args->out, "Output JSON file (default: standard output)");
  tools->add_flag("--compact", tools_args->compact,
                  "Fewer prompt tokens: nested argument objects by their type alone, no empty descriptions");
  add_data_options(tools, tools_args->flags);
  tools->callback([tools_args] { run_tools(*tools_args); });

  auto convert_args = std::make_shared<ConvertArgs>();
  auto* convert = data->add_subcommand(
      "convert",
      "Rewrite a data file in another shape (messages: OpenAI/TRL tool_calls; sharegpt: from/value with "
      "function_call/observation; conversations: the seed's plain-text calls); it renders the same");
  convert->add_option("data", convert_args->data, "JSONL data file")->required();
  convert->add_option("--to", convert_args->to, "Target shape")
      ->required()
      ->check(CLI::IsMember(convert_target_names()));
  convert->add_option("--out", convert_args->out, "Output JSONL")->required();
  add_data_options(convert, convert_args->flags);
  convert->callback([convert_args] { run_convert(*convert_args); });
}

}  // namespace mlxft::cli
