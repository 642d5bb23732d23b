// `mlxft tokenize`: token ids of texts with a model's tokenizer, for checks and users.
//   --text T                       prints the ids of T as one JSON array
//   --input TEXTS.jsonl --out F    one JSON string per input line -> one JSON array per output line
// No BOS, EOS or other special token is added; text that spells a special token stays text.
// --decode also prints (or writes, as {"ids", "text"}) the decoded text, which round-trips.
// The output file is written through a temporary file renamed into place (util/durable_file.h).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "cli/commands.h"
#include "mlxft/model/source.h"
#include "mlxft/tokenizer/load.h"
#include "mlxft/util/durable_file.h"
#include "mlxft/util/error.h"

namespace mlxft::cli {

namespace {

struct TokenizeArgs {
  std::string model, tokenizer, text, input, out;
  bool decode = false;
};

std::unique_ptr<Tokenizer> tokenizer_of(const TokenizeArgs& a) {
  if (!a.tokenizer.empty()) return load_tokenizer(a.tokenizer);
  if (!a.model.empty()) return load_tokenizer(resolve_model_source(a.model).tokenizer_file);
  throw Error(ErrorKind::Usage, "--model / --tokenizer", "no tokenizer given",
              "pass --model DIR or FILE.gguf, or --tokenizer PATH");
}

std::string ids_line(const Tokenizer& tok, const std::string& text, bool decode) {
  const auto ids = tok.encode(text);
  if (!decode) return nlohmann::json(ids).dump();
  return nlohmann::json{{"ids", ids}, {"text", tok.decode(ids)}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// One JSON string per non-blank line of `input`; anything else is a Data error naming file:line.
std::string tokenize_file(const Tokenizer& tok, const TokenizeArgs& a, size_t& count) {
  std::ifstream in(a.input, std::ios::binary);
  if (!in) throw Error(ErrorKind::Data, a.input, "cannot open the input file", "check --input");
  std::ostringstream out;
  size_t line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_string()) {
      throw Error(ErrorKind::Data, fmt::format("{}:{}", a.input, line_no), "the line is not a JSON string",
                  "write one JSON string per line, e.g. \"Hello world\"");
    }
    out << ids_line(tok, j.get<std::string>(), a.decode) << "\n";
    ++count;
  }
  return out.str();
}

void run_tokenize(const TokenizeArgs& a) {
  const auto tok = tokenizer_of(a);
  if (!a.input.empty()) {
    size_t count = 0;
    const std::string lines = tokenize_file(*tok, a, count);
    write_file_atomic(a.out, lines);
    spdlog::info("wrote the ids of {} texts to {}", count, a.out);
    return;
  }
  std::cout << ids_line(*tok, a.text, a.decode) << std::endl;
}

}  // namespace

void add_tokenize_command(CLI::App& app, const GlobalOptions& /*global*/) {
  auto a = std::make_shared<TokenizeArgs>();
  CLI::App* cmd =
      app.add_subcommand("tokenize", "Token ids of texts with a model's tokenizer (no special tokens added)");
  auto* model = cmd->add_option("--model", a->model, "Model directory or .gguf file (its tokenizer is used)");
  auto* tok = cmd->add_option("--tokenizer", a->tokenizer, "tokenizer.model, tokenizer.json or .gguf");
  model->excludes(tok);
  auto* text = cmd->add_option("--text", a->text, "One text: print its ids as a JSON array");
  auto* input = cmd->add_option("--input", a->input, "JSONL of JSON strings, one per line");
  auto* out = cmd->add_option("--out", a->out, "Output JSONL: one JSON array of ids per input line");
  text->excludes(input);
  input->needs(out);
  out->needs(input);
  cmd->add_flag("--decode", a->decode, "Also give the decoded text: {\"ids\", \"text\"}");
  cmd->callback([a, text, input] {
    if (text->count() == 0 && input->count() == 0) {
      throw Error(ErrorKind::Usage, "tokenize", "nothing to tokenize", "pass --text T or --input F --out G");
    }
    run_tokenize(*a);
  });
}

}  // namespace mlxft::cli
