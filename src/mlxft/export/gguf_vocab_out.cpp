// tokenizer.* metadata for GGUF exports (see gguf_vocab_out.h).
#include "mlxft/export/gguf_vocab_out.h"

#include <sentencepiece_processor.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "mlxft/tokenizer/bpe_load.h"
#include "mlxft/tokenizer/pretokenize.h"
#include "mlxft/util/error.h"

namespace fs = std::filesystem;

namespace mlxft {
namespace {

using T = GgufValueType;

GgufValue strings(const std::vector<std::string>& items) {
  return GgufValue::array_of(T::String, {items.begin(), items.end()});
}

GgufValue numbers(T type, const std::vector<GgufScalar>& items) {
  return GgufValue::array_of(type, items);
}

void put_id(GgufMetadata& m, const std::string& key, int64_t id) {
  if (id >= 0) m.emplace_back(key, GgufValue::u32(static_cast<uint32_t>(id)));
}

bool config_flag(const fs::path& dir, const std::string& key, bool fallback) {
  std::ifstream in(dir / "tokenizer_config.json");
  if (!in) return fallback;
  const auto j = nlohmann::json::parse(in, nullptr, false);
  return j.is_object() && j.contains(key) && j[key].is_boolean() ? j[key].get<bool>() : fallback;
}

// A token id config.json gives (llama.cpp's converter reads it where tokenizer_config.json names no
// such token: Qwen's bos_token is null, its config.json bos_token_id 151643); -1 when absent.
int64_t config_token_id(const fs::path& dir, const std::string& key) {
  std::ifstream in(dir / "config.json");
  if (!in) return -1;
  const auto j = nlohmann::json::parse(in, nullptr, false);
  return j.is_object() && j.contains(key) && j[key].is_number_integer() ? j[key].get<int64_t>() : -1;
}

GgufMetadata from_gguf(const fs::path& file) {
  GgufMetadata m;
  for (const auto& [key, v] : read_gguf(file).metadata) {
    if (key.starts_with("tokenizer.")) m.emplace_back(key, v);
  }
  return m;
}

// llama.cpp takes the vocabulary size from the token list: pad it to the embedding's rows as
// convert_hf_to_gguf.py does ("[PAD<i>]", type unused).
void pad_tokens(std::vector<std::string>& tokens, std::vector<GgufScalar>& types,
                std::vector<GgufScalar>* scores, int vocab_size) {
  for (auto i = static_cast<int>(tokens.size()); i < vocab_size; ++i) {
    tokens.push_back("[PAD" + std::to_string(i) + "]");
    types.emplace_back(int64_t{5});
    if (scores) scores->emplace_back(-10000.0);
  }
}

// tokenizer_config.json's added_tokens_decoder, as llama.cpp's converter reads it beside a
// tokenizer.model: a special token is CONTROL (3), another USER_DEFINED (4); llama.cpp matches both
// whole in text (Gemma's <start_of_turn> is one); their score is -1000. Ids past the vocabulary are
// ignored, as there.
void mark_added_tokens(const fs::path& dir, std::vector<std::string>& tokens, std::vector<GgufScalar>& types,
                       std::vector<GgufScalar>& scores) {
  std::ifstream in(dir / "tokenizer_config.json");
  if (!in) return;
  const auto j = nlohmann::json::parse(in, nullptr, false);
  if (!j.is_object() || !j.contains("added_tokens_decoder") || !j["added_tokens_decoder"].is_object()) return;
  for (const auto& [key, token] : j["added_tokens_decoder"].items()) {
    char* end = nullptr;
    const long id = std::strtol(key.c_str(), &end, 10);
    if (*end != '\0' || id < 0 || id >= static_cast<long>(tokens.size()) || !token.is_object() ||
        !token.contains("content") || !token["content"].is_string()) {
      continue;
    }
    tokens[static_cast<size_t>(id)] = token["content"].get<std::string>();
    const bool special =
        token.contains("special") && token["special"].is_boolean() && token["special"].get<bool>();
    types[static_cast<size_t>(id)] = int64_t{special ? 3 : 4};
    scores[static_cast<size_t>(id)] = -1000.0;
  }
}

GgufMetadata from_sentencepiece(const ModelSource& s, int vocab_size) {
  sentencepiece::SentencePieceProcessor sp;
  if (!sp.Load(s.tokenizer_file.string()).ok())
    throw Error(ErrorKind::Model, s.tokenizer_file.string(), "not a SentencePiece model");
  std::vector<std::string> tokens;
  std::vector<GgufScalar> scores, types;
  for (int i = 0; i < sp.GetPieceSize(); ++i) {
    tokens.push_back(sp.IdToPiece(i));
    scores.emplace_back(double{sp.GetScore(i)});
    const int type = sp.IsUnknown(i) ? 2 : sp.IsControl(i) ? 3 : sp.IsUnused(i) ? 5 : sp.IsByte(i) ? 6 : 1;
    types.emplace_back(int64_t{type});
  }
  pad_tokens(tokens, types, &scores, vocab_size);
  mark_added_tokens(s.path, tokens, types, scores);
  std::vector<std::string> pieces;
  sp.Encode("a", &pieces);
  const bool dummy_prefix = !pieces.empty() && pieces[0].starts_with("\xE2\x96\x81");
  GgufMetadata m = {{"tokenizer.ggml.model", GgufValue::string("llama")},
                    {"tokenizer.ggml.pre", GgufValue::string("default")},
                    {"tokenizer.ggml.tokens", strings(tokens)},
                    {"tokenizer.ggml.scores", numbers(T::F32, scores)},
                    {"tokenizer.ggml.token_type", numbers(T::I32, types)}};
  put_id(m, "tokenizer.ggml.bos_token_id", sp.bos_id());
  put_id(m, "tokenizer.ggml.eos_token_id", sp.eos_id());
  put_id(m, "tokenizer.ggml.unknown_token_id", sp.unk_id());
  put_id(m, "tokenizer.ggml.padding_token_id", sp.pad_id());
  m.emplace_back("tokenizer.ggml.add_bos_token",
                 GgufValue::boolean(config_flag(s.path, "add_bos_token", true)));
  m.emplace_back("tokenizer.ggml.add_eos_token",
                 GgufValue::boolean(config_flag(s.path, "add_eos_token", false)));
  m.emplace_back("tokenizer.ggml.add_space_prefix", GgufValue::boolean(dummy_prefix));
  return m;
}

// The llama.cpp pre-tokenizer family whose regex steps are exactly `patterns`.
std::string pre_family(const std::vector<std::string>& patterns, const std::string& source) {
  for (const char* family : {"smollm", "gpt2", "llama3", "qwen2"}) {
    if (pretokenizer_for_family(family, source) == patterns) return family;
  }
  throw Error(ErrorKind::Model, source + ": pre_tokenizer",
              "this pre-tokenizer matches none llama.cpp names (smollm, gpt2, llama-bpe, qwen2)",
              "convert the model with llama.cpp's convert_hf_to_gguf.py instead");
}

GgufMetadata from_tokenizer_json(const ModelSource& s, int vocab_size) {
  BpeVocab v = bpe_vocab_from_tokenizer_json(s.tokenizer_file);
  std::vector<GgufScalar> types;
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    const BpeTokenKind k = v.kinds.empty() ? BpeTokenKind::Normal : v.kinds[i];
    types.emplace_back(int64_t{k == BpeTokenKind::Special       ? 3
                               : k == BpeTokenKind::UserDefined ? 4
                               : k == BpeTokenKind::Unused      ? 5
                                                                : 1});
  }
  pad_tokens(v.tokens, types, nullptr, vocab_size);
  std::vector<std::string> merges;
  for (const auto& [a, b] : v.merges) merges.push_back(a + " " + b);
  std::string pre = pre_family(v.pretokenizer, s.tokenizer_file.string());
  if (pre == "llama3") pre = "llama-bpe";
  GgufMetadata m = {{"tokenizer.ggml.model", GgufValue::string("gpt2")},
                    {"tokenizer.ggml.pre", GgufValue::string(pre)},
                    {"tokenizer.ggml.tokens", strings(v.tokens)},
                    {"tokenizer.ggml.token_type", numbers(T::I32, types)},
                    {"tokenizer.ggml.merges", strings(merges)}};
  put_id(m, "tokenizer.ggml.bos_token_id",
         v.bos_id >= 0 ? v.bos_id : config_token_id(s.path, "bos_token_id"));
  put_id(m, "tokenizer.ggml.eos_token_id",
         v.eos_id >= 0 ? v.eos_id : config_token_id(s.path, "eos_token_id"));
  put_id(m, "tokenizer.ggml.unknown_token_id", v.unk_id);
  put_id(m, "tokenizer.ggml.padding_token_id", v.pad_id);
  m.emplace_back("tokenizer.ggml.add_bos_token", GgufValue::boolean(v.add_bos));
  m.emplace_back("tokenizer.ggml.add_eos_token", GgufValue::boolean(false));
  return m;
}

}  // namespace

GgufMetadata gguf_tokenizer_metadata(const ModelSource& s, int vocab_size) {
  if (s.kind == ModelSourceKind::GgufFile) return from_gguf(s.path);
  GgufMetadata m = s.tokenizer_file.filename() == "tokenizer.json" ? from_tokenizer_json(s, vocab_size)
                                                                   : from_sentencepiece(s, vocab_size);
  if (s.chat_template) m.emplace_back("tokenizer.chat_template", GgufValue::string(*s.chat_template));
  return m;
}

}  // namespace mlxft
