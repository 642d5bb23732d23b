#include "mlxft/tokenizer/pretokenize.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <unordered_map>

#include "mlxft/util/error.h"

namespace mlxft {

struct PreTokenizer::Compiled {
  pcre2_code* code = nullptr;
  std::string source;  // the tokenizer file, for match errors
  ~Compiled() { pcre2_code_free(code); }
};

namespace {

constexpr uint32_t kMatchLimit = 10'000'000;
constexpr uint32_t kDepthLimit = 100'000;
constexpr uint32_t kHeapLimitKiB = 256 * 1024;

// Per-thread match data and a JIT stack large enough for long runs of letters or spaces.
struct MatchScratch {
  pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
  pcre2_match_context* context = pcre2_match_context_create(nullptr);
  pcre2_jit_stack* jit_stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
  MatchScratch() {
    if (context && jit_stack) pcre2_jit_stack_assign(context, nullptr, jit_stack);
    // A hostile pattern (nested quantifiers, backtracking) fails its match instead of hanging the run:
    // the patterns tokenizers ship need a few steps per piece, far below these.
    if (context) {
      pcre2_set_match_limit(context, kMatchLimit);
      pcre2_set_depth_limit(context, kDepthLimit);
      pcre2_set_heap_limit(context, kHeapLimitKiB);
    }
  }
  ~MatchScratch() {
    pcre2_jit_stack_free(jit_stack);
    pcre2_match_context_free(context);
    pcre2_match_data_free(data);
  }
};

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(code, buffer, sizeof buffer);
  return reinterpret_cast<const char*>(buffer);
}

bool is_continuation(unsigned char c) {
  return (c & 0xC0) == 0x80;
}

}  // namespace

std::string widen_whitespace_classes(const std::string& pattern) {
  std::string out;
  out.reserve(pattern.size() + 16);
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      char e = pattern[++i];
      if (e == 's') {
        out += in_class ? R"(\s\x{85})" : R"([\s\x{85}])";
      } else if (e == 'S' && !in_class) {
        out += R"([^\s\x{85}])";
      } else {
        out += c;
        out += e;
      }
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out += c;
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out += pattern[++i];
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') out += pattern[++i];  // literal ']'
      continue;
    }
    if (in_class && c == ']') in_class = false;
    out += c;
  }
  return out;
}

PreTokenizer::PreTokenizer(const std::vector<std::string>& patterns, const std::string& source)
    : patterns_(patterns) {
  for (const auto& pattern : patterns) {
    std::string widened = widen_whitespace_classes(pattern);
    int error = 0;
    PCRE2_SIZE offset = 0;
    auto compiled = std::make_unique<Compiled>();
    compiled->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(widened.data()), widened.size(),
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error, &offset, nullptr);
    if (!compiled->code)
      throw Error(ErrorKind::Model, source,
                  "pre-tokenizer regex does not compile at offset " + std::to_string(offset) + ": " +
                      pcre2_message(error) + " (pattern " +
                      (pattern.size() > 200 ? pattern.substr(0, 200) + "..." : pattern) + ")");
    pcre2_jit_compile(compiled->code, PCRE2_JIT_COMPLETE);  // the interpreter serves when JIT is absent
    compiled->source = source;
    compiled_.push_back(std::move(compiled));
  }
}

PreTokenizer::~PreTokenizer() = default;
PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;

// One isolating split of text[range) by one pattern; the lookarounds see the piece alone.
static void split_one(const PreTokenizer::Compiled& step, std::string_view text, TextSpan range, std::vector<TextSpan>& out,
                      MatchScratch& scratch) {
  auto subject = reinterpret_cast<PCRE2_SPTR>(text.data() + range.begin);
  size_t length = range.end - range.begin;
  size_t offset = 0, previous = 0;
  while (offset < length) {
    int rc = pcre2_match(step.code, subject, length, offset, 0, scratch.data, scratch.context);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      throw Error(ErrorKind::Model, step.source + ": pre_tokenizer",
                  "regex match failed on a " + std::to_string(length) + "-byte piece of text: " +
                      pcre2_message(rc),
                  "the tokenizer's pre-tokenizer pattern backtracks without bound; use the model's "
                  "original tokenizer");
    }
    PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(scratch.data);
    size_t start = ovector[0], end = ovector[1];
    if (end == start) {  // an empty match: step over one character
      offset = end + 1;
      while (offset < length && is_continuation(static_cast<unsigned char>(subject[offset]))) ++offset;
      continue;
    }
    if (start > previous) out.push_back({uint32_t(range.begin + previous), uint32_t(range.begin + start)});
    out.push_back({uint32_t(range.begin + start), uint32_t(range.begin + end)});
    previous = offset = end;
  }
  if (previous < length) out.push_back({uint32_t(range.begin + previous), range.end});
}

void PreTokenizer::split(std::string_view text, TextSpan range, std::vector<TextSpan>& out) const {
  thread_local MatchScratch scratch;
  if (!scratch.data || !scratch.context)
    throw Error(ErrorKind::Memory, "pre-tokenizer", "cannot allocate regex match data");
  if (range.begin >= range.end) return;
  std::vector<TextSpan> current{range}, next;
  for (const auto& step : compiled_) {
    next.clear();
    for (const auto& piece : current) split_one(*step, text, piece, next, scratch);
    current.swap(next);
  }
  out.insert(out.end(), current.begin(), current.end());
}

std::vector<std::string> pretokenizer_for_family(const std::string& family, const std::string& source) {
  static const std::unordered_map<std::string, std::vector<std::string>> families = {
      {"gpt2", {kGpt2Pattern}},
      {"mpt", {kGpt2Pattern}},
      {"olmo", {kGpt2Pattern}},
      {"smollm", {kDigitPattern, kGpt2Pattern}},
      {"starcoder", {kDigitPattern, kGpt2Pattern}},
      {"refact", {kDigitPattern, kGpt2Pattern}},
      {"command-r", {kDigitPattern, kGpt2Pattern}},
      {"codeshell", {kDigitPattern, kGpt2Pattern}},
      {"llama3", {kLlama3Pattern}},
      {"llama-bpe", {kLlama3Pattern}},
      {"llama-v3", {kLlama3Pattern}},
      {"dbrx", {kLlama3Pattern}},
      {"smaug-bpe", {kLlama3Pattern}},
      {"qwen2", {kQwen2Pattern}},
      {"stablelm2", {kQwen2Pattern}},
      {"deepseek-r1-qwen", {kQwen2Pattern}},
  };
  auto it = families.find(family);
  if (it == families.end())
    throw Error(ErrorKind::Model, source + ": tokenizer.ggml.pre",
                "unsupported pre-tokenizer family '" + family + "'",
                "supported: gpt2, mpt, olmo, smollm, starcoder, refact, command-r, codeshell, llama3, "
                "llama-bpe, llama-v3, dbrx, smaug-bpe, qwen2, stablelm2, deepseek-r1-qwen");
  return it->second;
}

}  // namespace mlxft
