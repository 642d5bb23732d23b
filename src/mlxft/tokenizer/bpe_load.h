// Loading tokenizer vocabularies: a Hugging Face tokenizer.json (byte-level BPE) and the tokenizer
// metadata of a GGUF file (byte-level BPE "gpt2" or SentencePiece "llama").
//
// Contract:
// - bpe_vocab_from_tokenizer_json(): model type BPE with vocab and merges (merges as "a b" strings
//   or ["a", "b"] pairs), ignore_merges; pre_tokenizer ByteLevel (add_prefix_space false),
//   Digits, Split (Isolated, not inverted) and Sequence of those; normalizer null; decoder
//   ByteLevel or null; added_tokens (special -> Special, else UserDefined). A tokenizer_config.json
//   beside it, when present, gives bos/eos/pad tokens, add_bos_token and chat_template.
//   Anything else is an mlxft::Error (Model) naming the file and the key.
// - tokenizer_vocab_from_gguf(): the tokenizer.* keys of a GGUF file as a plain struct, read by the
//   validating GGUF reader (formats/gguf_file.h: a malformed file is the same Model error there as when
//   the model loads). A key of the wrong type (a string where an array of strings belongs, a float
//   token id, a non-bool flag), an integer that does not fit, or scores / token types of another
//   length than the tokens is a Model error naming the file and key; a special token id outside the
//   vocabulary is ignored with a warning (as llama.cpp does).
// - bpe_vocab_from_gguf(): a "gpt2" vocabulary: token_type 3 -> Special, 4 -> UserDefined,
//   5 -> Unused; tokenizer.ggml.pre picks the pre-tokenizer family (pretokenize.h).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "mlxft/tokenizer/bpe_tokenizer.h"

namespace mlxft {

// The tokenizer.* metadata of a GGUF file. Absent ids are -1; absent flags keep these defaults.
struct GgufTokenizerVocab {
  std::string model;  // tokenizer.ggml.model: "gpt2" | "llama" | ...
  std::string pre;    // tokenizer.ggml.pre ("" if absent)
  std::vector<std::string> tokens;
  std::vector<float> scores;  // empty if absent
  std::vector<int32_t>
      token_types;  // empty if absent (1 normal, 2 unknown, 3 control, 4 user, 5 unused, 6 byte)
  std::vector<std::string> merges;  // "left right"
  int32_t bos_id = -1, eos_id = -1, unk_id = -1, pad_id = -1;
  bool add_bos = false, add_eos = false;
  bool add_space_prefix = true;  // SentencePiece: a space before the text (llama.cpp's default)
  std::string chat_template;
  std::string source;  // the GGUF path
};

GgufTokenizerVocab tokenizer_vocab_from_gguf(const std::filesystem::path& gguf);
BpeVocab bpe_vocab_from_gguf(const GgufTokenizerVocab& gguf);
BpeVocab bpe_vocab_from_tokenizer_json(const std::filesystem::path& tokenizer_json);

}  // namespace mlxft
