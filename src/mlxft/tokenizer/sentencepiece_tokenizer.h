// The SentencePiece tokenizer (a tokenizer.model file: Llama 2, Mistral, TinyLlama).
//
// Contract (beyond the Tokenizer seam in tokenizer.h):
// - encode() gives the ids SentencePiece gives for one text segment: add_dummy_prefix and byte
//   fallback as the model file says, no BOS/EOS added.
// - Control pieces ([INST], [TOOL_CALLS], ...; ids 1-750 of Mistral's v3 tokenizer) are never
//   produced from text; control_id() finds them by their text.
// - load() throws a Model error naming the file when it is missing or not a SentencePiece model.
#pragma once

#include <filesystem>
#include <memory>

#include "mlxft/tokenizer/tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace mlxft {

class SentencePieceTokenizer final : public Tokenizer {
 public:
  static SentencePieceTokenizer load(const std::filesystem::path& model_file);
  // A serialized ModelProto (e.g. rebuilt from a GGUF "llama" vocabulary); `source` names it.
  static SentencePieceTokenizer from_serialized(const std::string& model_proto,
                                                const std::filesystem::path& source);

  SentencePieceTokenizer(SentencePieceTokenizer&&) noexcept;
  SentencePieceTokenizer& operator=(SentencePieceTokenizer&&) noexcept;
  ~SentencePieceTokenizer() override;

  std::vector<int32_t> encode(std::string_view text) const override;
  std::vector<Piece> encode_with_offsets(std::string_view text) const override;
  std::string decode(const std::vector<int32_t>& ids) const override;
  std::string piece(int32_t id) const override;

  int32_t vocab_size() const override;
  int32_t bos_id() const override;
  int32_t eos_id() const override;
  bool is_control(int32_t id) const override;
  std::optional<int32_t> control_id(std::string_view text) const override;

  std::string kind() const override { return "sentencepiece"; }
  std::string source() const override { return path_.string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  SentencePieceTokenizer() = default;
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  std::filesystem::path path_;
};

}  // namespace mlxft
