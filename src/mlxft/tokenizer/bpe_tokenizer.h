// Byte-level BPE (GPT-2 style: SmolLM2, Llama 3, Qwen2.5), implementing the mlxft::Tokenizer seam.
//
// Contract (beyond tokenizer.h):
// - Input is a BpeVocab, a plain struct the loaders fill (bpe_load.h: tokenizer.json or GGUF).
//   Token texts are in the byte-mapped alphabet (byte_to_unicode(): space -> "Ġ", "\n" -> "Ċ").
// - encode(): user-defined (added, non-special) tokens are cut out of the text first, as
//   `tokenizers` and llama.cpp do; special (control) tokens never are. The rest is pre-tokenized
//   (pretokenize.h), each piece's bytes mapped to their characters and merged by merge rank, lowest
//   first, leftmost on ties. With ignore_merges a piece that is itself a token is taken whole.
//   A byte whose character is not a token (real vocabularies lack those that never occur in valid
//   UTF-8, e.g. 0xFF) gives unk_id, or nothing when there is no unk token or it is a special token
//   (SmolLM2's GGUF names <|endoftext|>): a special token never comes from text.
//   Arbitrary bytes (invalid UTF-8 included) are accepted.
// - decode(): drops special tokens, maps characters back to bytes; decode(encode(x)) == x whenever
//   every byte of x has a token (has_byte_token). Real vocabularies may lack a few: SmolLM2's has no
//   token for the control bytes 0x04 0x06 0x13 0x14 0x16 0x1D, nor for 0xF1/0xF2 and the bytes valid
//   UTF-8 never holds; those bytes are dropped, exactly as `tokenizers` drops them.
// - A per-piece merge cache (bounded, thread-safe) keeps repeated words cheap.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "mlxft/tokenizer/pretokenize.h"
#include "mlxft/tokenizer/tokenizer.h"

namespace mlxft {

enum class BpeTokenKind : uint8_t { Normal, Special, UserDefined, Unused };

struct BpeVocab {
  std::vector<std::string> tokens;                          // id -> token text (byte-mapped)
  std::vector<BpeTokenKind> kinds;                          // id -> kind (empty: all Normal)
  std::vector<std::pair<std::string, std::string>> merges;  // in rank order
  std::vector<std::string> pretokenizer;                    // regex steps (pretokenize.h)
  bool ignore_merges = false;
  int32_t bos_id = -1, eos_id = -1, pad_id = -1, unk_id = -1;
  bool add_bos = false;       // adds_bos() reports it; encode() never adds it
  std::string chat_template;  // the model's own template, "" if none
  std::string source;         // the file it came from, for messages
};

// The GPT-2 byte -> character map (bytes 0x21-0x7E, 0xA1-0xAC, 0xAE-0xFF map to themselves; the
// other 68, in order, to U+0100 + n), as UTF-8 strings.
const std::array<std::string, 256>& byte_to_unicode();

class BpeTokenizer final : public Tokenizer {
 public:
  // Validates the vocabulary (merges name tokens, ids in range); throws mlxft::Error naming source.
  explicit BpeTokenizer(BpeVocab vocab);
  ~BpeTokenizer() override;

  std::vector<int32_t> encode(std::string_view text) const override;
  std::vector<Piece> encode_with_offsets(std::string_view text) const override;
  std::string decode(const std::vector<int32_t>& ids) const override;
  std::string piece(int32_t id) const override;

  int32_t vocab_size() const override { return int32_t(vocab_.tokens.size()); }
  int32_t bos_id() const override { return vocab_.bos_id; }
  int32_t eos_id() const override { return vocab_.eos_id; }
  bool adds_bos() const override { return vocab_.add_bos && vocab_.bos_id >= 0; }
  bool is_control(int32_t id) const override;
  std::optional<int32_t> control_id(std::string_view text) const override;

  std::string kind() const override { return "bpe"; }
  std::string source() const override { return vocab_.source; }

  const BpeVocab& vocab() const { return vocab_; }
  bool has_byte_token(unsigned char byte) const { return byte_id_[byte] >= 0; }
  int32_t pad_id() const { return vocab_.pad_id; }

 private:
  struct MergeCache;
  // Ids of one pre-tokenized piece, appended with their byte ranges (relative to the piece).
  void encode_piece(std::string_view piece, uint32_t base, std::vector<Piece>& out) const;
  void bpe(std::string_view piece, std::vector<int32_t>& ids, std::vector<uint32_t>& ends) const;
  void encode_segment(std::string_view text, TextSpan range, std::vector<Piece>& out) const;

  BpeVocab vocab_;
  PreTokenizer pretokenizer_;
  std::unordered_map<std::string, int32_t> token_to_id_;
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merge_;  // (left, right) -> (rank, id)
  std::array<int32_t, 256> byte_id_{};                               // -1: the byte has no token
  int32_t byte_unk_id_ = -1;                                         // for such bytes; -1: dropped
  std::array<int16_t, 0x180> char_to_byte_{};                        // code point -> byte, -1 none
  std::vector<int32_t> user_defined_;                                // ids cut out of text
  std::unique_ptr<MergeCache> cache_;
};

}  // namespace mlxft
