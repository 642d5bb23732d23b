// SentencePiece tokenizer for Llama/Mistral models (tokenizer.model).
//
// Contract: encode() turns one text segment into piece ids exactly as
// SentencePiece does (add_dummy_prefix and byte fallback as the model file
// says; no BOS/EOS added). Control pieces ([INST], [TOOL_CALLS], ...; ids
// 1-750 of Mistral's v3 tokenizer) are never produced from text: text that
// looks like "[INST]" stays text. Callers insert control tokens by id, looked
// up with control_id(). decode() drops control pieces; piece() shows any id.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace mlxft {

class Tokenizer {
 public:
  // Throws mlxft::Error (Model kind) naming the file when it cannot be loaded.
  static Tokenizer load(const std::filesystem::path& model_file);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  std::vector<int32_t> encode(std::string_view text) const;
  // Like encode(), plus the byte range [begin, end) of text that each piece
  // covers (byte-fallback pieces of one character share its range).
  struct Piece {
    int32_t id;
    uint32_t begin, end;
  };
  std::vector<Piece> encode_with_offsets(std::string_view text) const;
  std::string decode(const std::vector<int32_t>& ids) const;
  std::string piece(int32_t id) const;

  int32_t vocab_size() const;
  int32_t bos_id() const;
  int32_t eos_id() const;
  bool is_control(int32_t id) const;
  // Id of a control piece by its text ("[INST]" -> 3), if the vocab has it.
  std::optional<int32_t> control_id(std::string_view piece) const;
  // Like control_id() but throws a Model error naming the tokenizer file.
  int32_t require_control_id(std::string_view piece) const;

  const std::filesystem::path& path() const { return path_; }

 private:
  Tokenizer() = default;
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  std::filesystem::path path_;
};

}  // namespace mlxft
