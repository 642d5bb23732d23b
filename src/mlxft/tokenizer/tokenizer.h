// The tokenizer seam: text <-> token ids, whatever the vocabulary kind.
//
// Implementations: SentencePiece (a tokenizer.model file, or a GGUF "llama" vocabulary) and
// byte-level BPE (a Hugging Face tokenizer.json, or a GGUF "gpt2" vocabulary).
// Contract:
// - encode(text) gives the ids of one text segment exactly as the reference implementation does
//   (SentencePiece; Hugging Face `tokenizers`), with no BOS, EOS or other special token added.
//   Special (control) tokens are never produced from text: text that spells "[INST]" or
//   "<|im_start|>" stays text. Callers insert special tokens by id (control_id()).
// - encode_with_offsets(): the same ids, each with the byte range [begin, end) of text it covers
//   (pieces of one character split into bytes share its range).
// - decode(ids) drops special tokens; for byte-level BPE decode(encode(x)) == x for valid UTF-8.
// - piece(id) shows any id (out of range: "<out-of-vocab:N>").
// - bos_id()/eos_id(): -1 when the vocabulary has none.
// - adds_bos(): whether a plain text starts with BOS for this model (SentencePiece: when it has one;
//   byte-level BPE: the model's add_bos_token, false for SmolLM2).
// Errors are mlxft::Error naming source().
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mlxft {

class Tokenizer {
 public:
  struct Piece {
    int32_t id;
    uint32_t begin, end;
  };

  virtual ~Tokenizer() = default;

  virtual std::vector<int32_t> encode(std::string_view text) const = 0;
  virtual std::vector<Piece> encode_with_offsets(std::string_view text) const = 0;
  virtual std::string decode(const std::vector<int32_t>& ids) const = 0;
  virtual std::string piece(int32_t id) const = 0;

  virtual int32_t vocab_size() const = 0;
  virtual int32_t bos_id() const = 0;
  virtual int32_t eos_id() const = 0;
  virtual bool adds_bos() const { return bos_id() >= 0; }
  virtual bool is_control(int32_t id) const = 0;  // special / control token
  // Id of a special token by its text ("[INST]" -> 3, "<|im_end|>" -> 2), if the vocab has it.
  virtual std::optional<int32_t> control_id(std::string_view text) const = 0;
  // Like control_id() but a Model error naming source() when absent.
  int32_t require_control_id(std::string_view text) const;

  virtual std::string kind() const = 0;    // "sentencepiece" | "bpe"
  virtual std::string source() const = 0;  // the file it was read from, for messages
};

}  // namespace mlxft
