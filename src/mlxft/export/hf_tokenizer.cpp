// Hugging Face tokenizer files from a GGUF vocabulary (see hf_tokenizer.h).
#include "mlxft/export/hf_tokenizer.h"

#include <nlohmann/json.hpp>

#include "mlxft/tokenizer/bpe_load.h"
#include "mlxft/tokenizer/pretokenize.h"
#include "mlxft/tokenizer/spm_proto.h"
#include "mlxft/util/durable_file.h"
#include "mlxft/util/error.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace mlxft {
namespace {

json token_or_null(const GgufTokenizerVocab& v, int32_t id) {
  if (id < 0 || static_cast<size_t>(id) >= v.tokens.size()) return nullptr;
  return v.tokens[static_cast<size_t>(id)];
}

json tokenizer_config(const GgufTokenizerVocab& v, const ModelConfig& c, const std::string& cls) {
  json j = {{"add_bos_token", v.add_bos},
            {"add_eos_token", v.add_eos},
            {"bos_token", token_or_null(v, v.bos_id)},
            {"eos_token", token_or_null(v, v.eos_id)},
            {"unk_token", token_or_null(v, v.unk_id)},
            {"pad_token", token_or_null(v, v.pad_id)},
            {"clean_up_tokenization_spaces", false},
            {"model_max_length", c.max_position_embeddings},
            {"tokenizer_class", cls}};
  if (cls == "LlamaTokenizer") j["legacy"] = false;
  if (!v.chat_template.empty()) j["chat_template"] = v.chat_template;
  return j;
}

// One pre-tokenizer step as `tokenizers` writes it.
json pretokenizer_step(const std::string& pattern) {
  if (pattern == kGpt2Pattern)
    return {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
  if (pattern == kDigitPattern) return {{"type", "Digits"}, {"individual_digits", true}};
  if (pattern == kDigitsPattern) return {{"type", "Digits"}, {"individual_digits", false}};
  return {{"type", "Split"}, {"pattern", {{"Regex", pattern}}}, {"behavior", "Isolated"}, {"invert", false}};
}

json bpe_tokenizer_json(const GgufTokenizerVocab& g) {
  const BpeVocab v = bpe_vocab_from_gguf(g);  // validates the vocabulary and names the pre-tokenizer
  json steps = json::array();
  bool byte_level = false;
  for (const std::string& p : v.pretokenizer) {
    steps.push_back(pretokenizer_step(p));
    byte_level |= steps.back()["type"] == "ByteLevel";
  }
  if (!byte_level)
    steps.push_back(
        {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}});
  json added = json::array(), vocab = json::object(), merges = json::array();
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    vocab[v.tokens[i]] = i;
    const BpeTokenKind k = v.kinds.empty() ? BpeTokenKind::Normal : v.kinds[i];
    if (k != BpeTokenKind::Special && k != BpeTokenKind::UserDefined) continue;
    added.push_back({{"id", i},
                     {"content", v.tokens[i]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", k != BpeTokenKind::Special},
                     {"special", k == BpeTokenKind::Special}});
  }
  for (const auto& [a, b] : v.merges) merges.push_back(a + " " + b);
  const json byte_level_pp = {
      {"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}};
  return {{"version", "1.0"},
          {"truncation", nullptr},
          {"padding", nullptr},
          {"added_tokens", added},
          {"normalizer", nullptr},
          {"pre_tokenizer", {{"type", "Sequence"}, {"pretokenizers", steps}}},
          {"post_processor", byte_level_pp},
          {"decoder", byte_level_pp},
          {"model",
           {{"type", "BPE"},
            {"dropout", nullptr},
            {"unk_token", nullptr},
            {"continuing_subword_prefix", nullptr},
            {"end_of_word_suffix", nullptr},
            {"fuse_unk", false},
            {"byte_fallback", false},
            {"ignore_merges", v.ignore_merges},
            {"vocab", vocab},
            {"merges", merges}}}};
}

}  // namespace

void write_hf_tokenizer_from_gguf(const fs::path& gguf, const ModelConfig& c, const fs::path& dir) {
  const GgufTokenizerVocab v = tokenizer_vocab_from_gguf(gguf);
  if (v.model == "llama") {
    write_file_atomic(dir / "tokenizer.model", sentencepiece_model_from_gguf(v));
    write_file_atomic(dir / "tokenizer_config.json", tokenizer_config(v, c, "LlamaTokenizer").dump(2) + "\n");
  } else if (v.model == "gpt2") {
    write_file_atomic(dir / "tokenizer.json", bpe_tokenizer_json(v).dump(2) + "\n");
    write_file_atomic(dir / "tokenizer_config.json",
                      tokenizer_config(v, c, "PreTrainedTokenizerFast").dump(2) + "\n");
  } else {
    throw Error(ErrorKind::Model, gguf.string() + ": tokenizer.ggml.model",
                "vocabulary '" + v.model + "' cannot be written as Hugging Face tokenizer files",
                "mlxft writes \"llama\" (SentencePiece) and \"gpt2\" (byte-level BPE) vocabularies");
  }
  json gen = {
      {"_from_model_config", true}, {"bos_token_id", c.bos_token_id}, {"eos_token_id", c.eos_token_id}};
  write_file_atomic(dir / "generation_config.json", gen.dump(2) + "\n");
}

}  // namespace mlxft
