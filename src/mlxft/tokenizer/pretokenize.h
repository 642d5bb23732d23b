// Pre-tokenization for byte-level BPE: text -> pieces, by regular expressions run with PCRE2.
//
// Contract:
// - A PreTokenizer is a sequence of "isolating" regex splits, as Hugging Face `tokenizers` runs a
//   Sequence of Split(behavior = Isolated) / Digits / ByteLevel(use_regex) pre-tokenizers and as
//   llama.cpp runs its regex lists: each step cuts every piece into its matches and the gaps between
//   them, all kept, in order. The concatenation of the pieces is always the input.
// - Patterns use Unicode properties (PCRE2 in UTF + UCP mode, JIT-compiled when PCRE2 offers it).
//   `\s` and `\S` are widened to Unicode White_Space (PCRE2's \s leaves out U+0085, a Cc), as the
//   Oniguruma engine of `tokenizers` reads them.
// - Invalid UTF-8 never fails: bytes that are not part of a valid character match nothing, so they
//   land in gap pieces (PCRE2_MATCH_INVALID_UTF).
// - Named families: "gpt2", "smollm" (and its llama.cpp aliases), "llama3", "qwen2"
//   (pretokenizer_for_family); unknown names are an error naming the source.
// - Thread-safe: split() may run concurrently (match data is per call).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mlxft {

// The GPT-2 regex as `tokenizers`' ByteLevel(use_regex = true) applies it.
inline constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
inline constexpr const char* kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
inline constexpr const char* kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Digits(individual_digits = true) / (false).
inline constexpr const char* kDigitPattern = R"(\p{N})";
inline constexpr const char* kDigitsPattern = R"(\p{N}+)";

// A byte range [begin, end) of the text given to split().
struct TextSpan {
  uint32_t begin, end;
};

class PreTokenizer {
 public:
  // Compiles the patterns (each one step, in order). `source` names the file for errors.
  PreTokenizer(const std::vector<std::string>& patterns, const std::string& source);
  ~PreTokenizer();
  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;

  // The pieces of text[begin, end), as spans of `text`, appended to `out`. A match that exceeds PCRE2's
  // match, depth or heap limit (a pattern that backtracks without bound) is a Model error naming the
  // tokenizer file, never a hang.
  void split(std::string_view text, TextSpan range, std::vector<TextSpan>& out) const;
  const std::vector<std::string>& patterns() const { return patterns_; }

  struct Compiled;  // a compiled step (pretokenize.cpp)

 private:
  std::vector<std::string> patterns_;
  std::vector<std::unique_ptr<Compiled>> compiled_;
};

// The step patterns of a GGUF `tokenizer.ggml.pre` family ("smollm" -> {digit, gpt2}).
// Throws mlxft::Error (Model) naming `source` and the key for an unsupported family.
std::vector<std::string> pretokenizer_for_family(const std::string& family, const std::string& source);

// `\s`/`\S` widened to Unicode White_Space (see the contract); exposed for tests.
std::string widen_whitespace_classes(const std::string& pattern);

}  // namespace mlxft
