// GGUF tokenizer metadata (through the validating reader, formats/gguf_file.h) -> GgufTokenizerVocab ->
// BpeVocab.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <limits>
#include <type_traits>

#include "mlxft/formats/gguf_file.h"
#include "mlxft/tokenizer/bpe_load.h"
#include "mlxft/util/error.h"

namespace mlxft {

namespace {

[[noreturn]] void bad_key(const std::string& source, const std::string& key, const std::string& what) {
  throw Error(ErrorKind::Model, source + ": " + key, what,
              "re-convert the model with llama.cpp's convert_hf_to_gguf.py");
}

std::string type_of(const GgufValue& v) {
  return v.type == GgufValueType::Array ? fmt::format("an array of {}", to_string(v.element_type))
                                        : fmt::format("a {}", to_string(v.type));
}

bool is_number(GgufValueType t) {
  return t != GgufValueType::String && t != GgufValueType::Array && t != GgufValueType::Bool;
}

std::string get_string(const GgufFile& f, const std::string& key) {
  const GgufValue* v = f.find(key);
  if (!v) return {};
  if (v->type != GgufValueType::String) bad_key(f.source, key, "expected a string, found " + type_of(*v));
  return std::get<std::string>(v->scalar);
}

std::vector<std::string> get_strings(const GgufFile& f, const std::string& key) {
  const GgufValue* v = f.find(key);
  if (!v) return {};
  if (v->type != GgufValueType::Array || v->element_type != GgufValueType::String)
    bad_key(f.source, key, "expected an array of strings, found " + type_of(*v));
  std::vector<std::string> out;
  out.reserve(v->array.size());
  for (const GgufScalar& s : v->array) out.push_back(std::get<std::string>(s));
  return out;
}

// A number as T; an error naming `key` (and the element) when it does not fit T.
template <typename T>
T number_as(const GgufScalar& s, const std::string& source, const std::string& key) {
  const double d = std::visit(
      [](const auto& x) -> double {
        if constexpr (std::is_same_v<std::decay_t<decltype(x)>, std::string>) {
          return 0.0;  // not reached: strings are rejected by type before
        } else {
          return static_cast<double>(x);
        }
      },
      s);
  if constexpr (std::is_integral_v<T>) {
    if (!(d >= static_cast<double>(std::numeric_limits<T>::min()) &&
          d <= static_cast<double>(std::numeric_limits<T>::max())) ||
        d != static_cast<double>(static_cast<int64_t>(d)))
      bad_key(source, key, fmt::format("{} is not a {}-bit integer", d, 8 * sizeof(T)));
  }
  return static_cast<T>(d);
}

// A numeric array converted to T; empty when absent.
template <typename T>
std::vector<T> get_numbers(const GgufFile& f, const std::string& key) {
  const GgufValue* v = f.find(key);
  if (!v) return {};
  if (v->type != GgufValueType::Array || !is_number(v->element_type))
    bad_key(f.source, key, "expected an array of numbers, found " + type_of(*v));
  std::vector<T> out;
  out.reserve(v->array.size());
  for (size_t i = 0; i < v->array.size(); ++i)
    out.push_back(number_as<T>(v->array[i], f.source, fmt::format("{}[{}]", key, i)));
  return out;
}

// A token id: an integer; `value` is kept when the key is absent. An id outside [0, n_tokens) is
// ignored with a warning, as llama.cpp does ("bad special token"), so files llama.cpp loads load here.
void get_id(const GgufFile& f, const std::string& key, size_t n_tokens, int32_t& value) {
  const GgufValue* v = f.find(key);
  if (!v) return;
  if (!is_number(v->type) || v->type == GgufValueType::F32 || v->type == GgufValueType::F64)
    bad_key(f.source, key, "expected an integer token id, found " + type_of(*v));
  const auto id = number_as<int64_t>(v->scalar, f.source, key);
  if (id < 0 || static_cast<size_t>(id) >= n_tokens) {
    spdlog::warn("{}: {}: token id {} is outside the vocabulary of {} tokens; ignored", f.source, key, id,
                 n_tokens);
    return;
  }
  value = static_cast<int32_t>(id);
}

void get_flag(const GgufFile& f, const std::string& key, bool& value) {
  const GgufValue* v = f.find(key);
  if (!v) return;
  if (v->type != GgufValueType::Bool) bad_key(f.source, key, "expected a bool, found " + type_of(*v));
  value = std::get<bool>(v->scalar);
}

}  // namespace

GgufTokenizerVocab tokenizer_vocab_from_gguf(const std::filesystem::path& gguf) {
  const std::string source = gguf.string();
  std::error_code ec;
  if (!std::filesystem::exists(gguf, ec)) throw Error(ErrorKind::Model, source, "GGUF file not found");
  const GgufFile f = read_gguf(gguf);
  GgufTokenizerVocab v;
  v.source = source;
  v.model = get_string(f, "tokenizer.ggml.model");
  if (v.model.empty()) bad_key(source, "tokenizer.ggml.model", "missing: the GGUF file has no tokenizer");
  v.pre = get_string(f, "tokenizer.ggml.pre");
  v.tokens = get_strings(f, "tokenizer.ggml.tokens");
  if (v.tokens.empty()) bad_key(source, "tokenizer.ggml.tokens", "missing or empty");
  v.scores = get_numbers<float>(f, "tokenizer.ggml.scores");
  v.token_types = get_numbers<int32_t>(f, "tokenizer.ggml.token_type");
  v.merges = get_strings(f, "tokenizer.ggml.merges");
  const size_t n = v.tokens.size();
  get_id(f, "tokenizer.ggml.bos_token_id", n, v.bos_id);
  get_id(f, "tokenizer.ggml.eos_token_id", n, v.eos_id);
  get_id(f, "tokenizer.ggml.unknown_token_id", n, v.unk_id);
  get_id(f, "tokenizer.ggml.padding_token_id", n, v.pad_id);
  get_flag(f, "tokenizer.ggml.add_bos_token", v.add_bos);
  get_flag(f, "tokenizer.ggml.add_eos_token", v.add_eos);
  get_flag(f, "tokenizer.ggml.add_space_prefix", v.add_space_prefix);
  v.chat_template = get_string(f, "tokenizer.chat_template");
  if (!v.scores.empty() && v.scores.size() != n)
    bad_key(source, "tokenizer.ggml.scores", fmt::format("{} scores for {} tokens", v.scores.size(), n));
  if (!v.token_types.empty() && v.token_types.size() != n)
    bad_key(source, "tokenizer.ggml.token_type",
            fmt::format("{} token types for {} tokens", v.token_types.size(), n));
  return v;
}

BpeVocab bpe_vocab_from_gguf(const GgufTokenizerVocab& g) {
  if (g.model != "gpt2")
    throw Error(ErrorKind::Model, g.source + ": tokenizer.ggml.model",
                "'" + g.model + "' is not a byte-level BPE vocabulary (expected \"gpt2\")");
  if (g.pre.empty())
    throw Error(ErrorKind::Model, g.source + ": tokenizer.ggml.pre",
                "missing: the pre-tokenizer of this vocabulary is unknown",
                "re-convert with a recent llama.cpp");
  BpeVocab v;
  v.source = g.source;
  v.tokens = g.tokens;
  v.pretokenizer = pretokenizer_for_family(g.pre, g.source);
  v.kinds.assign(v.tokens.size(), BpeTokenKind::Normal);
  for (size_t i = 0; i < g.token_types.size(); ++i) {
    switch (g.token_types[i]) {
      case 3: v.kinds[i] = BpeTokenKind::Special; break;
      case 4: v.kinds[i] = BpeTokenKind::UserDefined; break;
      case 5: v.kinds[i] = BpeTokenKind::Unused; break;
      default: break;
    }
  }
  v.merges.reserve(g.merges.size());
  for (size_t i = 0; i < g.merges.size(); ++i) {
    size_t space = g.merges[i].find(' ', 1);
    if (space == std::string::npos)
      throw Error(ErrorKind::Model, g.source + ": tokenizer.ggml.merges",
                  "merge " + std::to_string(i) + " '" + g.merges[i] + "' is not 'left right'");
    v.merges.emplace_back(g.merges[i].substr(0, space), g.merges[i].substr(space + 1));
  }
  v.bos_id = g.bos_id;
  v.eos_id = g.eos_id;
  v.pad_id = g.pad_id;
  v.unk_id = g.unk_id;
  v.add_bos = g.add_bos;
  v.chat_template = g.chat_template;
  return v;
}

}  // namespace mlxft
