// GGUF tokenizer metadata -> GgufTokenizerVocab (through MLX's load_gguf for now) -> BpeVocab.
#include <mlx/io.h>
#include <mlx/ops.h>
#include <mlx/transforms.h>

#include "mlxft/tokenizer/bpe_load.h"
#include "mlxft/util/error.h"

namespace mx = mlx::core;

namespace mlxft {

namespace {

using Metadata = std::unordered_map<std::string, mx::GGUFMetaData>;

const mx::GGUFMetaData* find(const Metadata& meta, const std::string& key) {
  auto it = meta.find(key);
  return it == meta.end() || std::holds_alternative<std::monostate>(it->second) ? nullptr : &it->second;
}

[[noreturn]] void bad_key(const std::string& source, const std::string& key, const std::string& what) {
  throw Error(ErrorKind::Model, source + ": " + key, what);
}

std::string get_string(const Metadata& meta, const std::string& source, const std::string& key) {
  const auto* v = find(meta, key);
  if (!v) return {};
  if (auto s = std::get_if<std::string>(v)) return *s;
  bad_key(source, key, "expected a string");
}

std::vector<std::string> get_strings(const Metadata& meta, const std::string& source,
                                     const std::string& key) {
  const auto* v = find(meta, key);
  if (!v) return {};
  if (auto s = std::get_if<std::vector<std::string>>(v)) return *s;
  bad_key(source, key, "expected an array of strings");
}

// A numeric array (or scalar) converted to T; empty when absent.
template <typename T>
std::vector<T> get_numbers(const Metadata& meta, const std::string& source, const std::string& key) {
  const auto* v = find(meta, key);
  if (!v) return {};
  const auto* a = std::get_if<mx::array>(v);
  if (!a) bad_key(source, key, "expected a number or an array of numbers");
  mx::array converted = mx::astype(mx::flatten(*a), std::is_floating_point_v<T> ? mx::float32 : mx::int64);
  mx::eval(converted);
  std::vector<T> out(converted.size());
  if constexpr (std::is_floating_point_v<T>) {
    const float* data = converted.data<float>();
    for (size_t i = 0; i < out.size(); ++i) out[i] = T(data[i]);
  } else {
    const int64_t* data = converted.data<int64_t>();
    for (size_t i = 0; i < out.size(); ++i) out[i] = T(data[i]);
  }
  return out;
}

template <typename T>
void get_scalar(const Metadata& meta, const std::string& source, const std::string& key, T& value) {
  auto v = get_numbers<int64_t>(meta, source, key);
  if (v.size() > 1) bad_key(source, key, "expected a single value");
  if (v.size() == 1) value = T(v[0]);
}

}  // namespace

GgufTokenizerVocab tokenizer_vocab_from_gguf(const std::filesystem::path& gguf) {
  const std::string source = gguf.string();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(gguf, ec))
    throw Error(ErrorKind::Model, source, "GGUF file not found");
  Metadata meta;
  try {
    meta = mx::load_gguf(source, mx::Device::cpu).second;
  } catch (const std::exception& e) {
    throw Error(ErrorKind::Model, source, std::string("cannot read the GGUF file: ") + e.what());
  }
  GgufTokenizerVocab v;
  v.source = source;
  v.model = get_string(meta, source, "tokenizer.ggml.model");
  if (v.model.empty()) bad_key(source, "tokenizer.ggml.model", "missing: the GGUF file has no tokenizer");
  v.pre = get_string(meta, source, "tokenizer.ggml.pre");
  v.tokens = get_strings(meta, source, "tokenizer.ggml.tokens");
  if (v.tokens.empty()) bad_key(source, "tokenizer.ggml.tokens", "missing or empty");
  v.scores = get_numbers<float>(meta, source, "tokenizer.ggml.scores");
  v.token_types = get_numbers<int32_t>(meta, source, "tokenizer.ggml.token_type");
  v.merges = get_strings(meta, source, "tokenizer.ggml.merges");
  get_scalar(meta, source, "tokenizer.ggml.bos_token_id", v.bos_id);
  get_scalar(meta, source, "tokenizer.ggml.eos_token_id", v.eos_id);
  get_scalar(meta, source, "tokenizer.ggml.unknown_token_id", v.unk_id);
  get_scalar(meta, source, "tokenizer.ggml.padding_token_id", v.pad_id);
  get_scalar(meta, source, "tokenizer.ggml.add_bos_token", v.add_bos);
  get_scalar(meta, source, "tokenizer.ggml.add_eos_token", v.add_eos);
  get_scalar(meta, source, "tokenizer.ggml.add_space_prefix", v.add_space_prefix);
  v.chat_template = get_string(meta, source, "tokenizer.chat_template");
  const size_t n = v.tokens.size();
  if (!v.scores.empty() && v.scores.size() != n)
    bad_key(source, "tokenizer.ggml.scores", "length differs from tokens");
  if (!v.token_types.empty() && v.token_types.size() != n)
    bad_key(source, "tokenizer.ggml.token_type", "length differs from tokens");
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
