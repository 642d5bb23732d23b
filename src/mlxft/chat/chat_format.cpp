// The chat-format registry and what derives from it: names, factory, template recognition; and
// the parts every format shares (see chat_format.h).
#include "mlxft/chat/chat_format.h"

#include <fmt/format.h>

#include <algorithm>

#include "mlxft/chat/chatml.h"
#include "mlxft/chat/gemma.h"
#include "mlxft/chat/mistral_v3.h"
#include "mlxft/chat/phi3.h"
#include "mlxft/util/error.h"

namespace mlxft {

namespace {

// One chat format. A format class F provides kName, kTemplateMarker (the text its chat templates
// contain), kVocabularyMarker (the control token that names it without a template; "" for none) and
// match_template(chat_template, tokenizer); row<F>() fails to compile without them.
struct ChatFormatRow {
  std::string_view name;
  std::vector<std::string_view> aliases;  // other spellings make_chat_format() accepts
  std::string_view template_marker;
  std::string_view vocabulary_marker;
  std::unique_ptr<ChatFormat> (*make)(const Tokenizer&);
  TemplateMatch (*match)(const std::string& chat_template, const Tokenizer& tokenizer);
};

template <class F>
ChatFormatRow row(std::vector<std::string_view> aliases = {}) {
  return {F::kName,
          std::move(aliases),
          F::kTemplateMarker,
          F::kVocabularyMarker,
          [](const Tokenizer& t) -> std::unique_ptr<ChatFormat> { return std::make_unique<F>(t); },
          &F::match_template};
}

// THE registry: one row per format, in the order names are listed.
const std::vector<ChatFormatRow>& registry() {
  static const std::vector<ChatFormatRow> rows = {
      row<MistralV3Format>({"mistral_v3"}),
      row<ChatMlFormat>(),
      row<GemmaFormat>(),
      row<Phi3Format>(),
  };
  return rows;
}

// The rows' markers of one kind, sorted, for messages ("<|im_start|>", "[INST]").
std::vector<std::string_view> markers(std::string_view ChatFormatRow::*marker) {
  std::vector<std::string_view> out;
  for (const auto& r : registry())
    if (!(r.*marker).empty()) out.push_back(r.*marker);
  std::sort(out.begin(), out.end());
  return out;
}

[[noreturn]] void unrecognised(const std::string& chat_template, const Tokenizer& tokenizer,
                               const std::string& where) {
  const std::string what =
      chat_template.empty()
          ? fmt::format("the model has no chat template and its tokenizer ({}) has no {} control tokens",
                        tokenizer.source(), fmt::join(markers(&ChatFormatRow::vocabulary_marker), " or "))
          : fmt::format("the model's chat template is not one mlxft recognises (it has neither {}): \"{}\"",
                        fmt::join(markers(&ChatFormatRow::template_marker), " nor "),
                        chat_template.substr(0, 120));
  throw Error(
      ErrorKind::Config, where, what,
      fmt::format("set the chat format explicitly to one of: {}", fmt::join(chat_format_names(), ", ")));
}

}  // namespace

const std::vector<std::string>& chat_format_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& r : registry()) out.emplace_back(r.name);
    return out;
  }();
  return names;
}

const std::vector<std::string>& chat_format_choice_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out = {"auto"};
    out.insert(out.end(), chat_format_names().begin(), chat_format_names().end());
    return out;
  }();
  return names;
}

std::unique_ptr<ChatFormat> make_chat_format(std::string_view name, const Tokenizer& tokenizer,
                                             const std::string& where) {
  for (const auto& r : registry()) {
    if (r.name == name || std::find(r.aliases.begin(), r.aliases.end(), name) != r.aliases.end())
      return r.make(tokenizer);
  }
  throw Error(ErrorKind::Config, where, fmt::format("unknown chat format '{}'", name),
              fmt::format("use one of: {}", fmt::join(chat_format_names(), ", ")));
}

std::string detect_chat_format(const std::string& chat_template, const Tokenizer& tokenizer,
                               const std::string& where) {
  const ChatFormatRow* best = nullptr;
  TemplateMatch strongest = TemplateMatch::None;
  for (const auto& r : registry()) {
    const TemplateMatch m = r.match(chat_template, tokenizer);
    if (m > strongest) {
      strongest = m;
      best = &r;
    }
  }
  if (best == nullptr) unrecognised(chat_template, tokenizer, where);
  return std::string(best->name);
}

std::unique_ptr<ChatFormat> resolve_chat_format(std::string_view name, const Tokenizer& tokenizer,
                                                const std::string& chat_template, const std::string& where) {
  if (name == "auto")
    return make_chat_format(detect_chat_format(chat_template, tokenizer, where), tokenizer, where);
  return make_chat_format(name, tokenizer, where);
}

ParsedCalls ChatFormat::parse_tool_calls(std::string_view text) const {
  try {
    if (auto native = parse_native_calls(text)) return std::move(*native);
  } catch (const std::exception&) {
    return ParsedCalls{true, false, {}};  // defensive: model output never ends an evaluation
  }
  return parse_plain_tool_calls(text);
}

std::vector<std::string> ChatFormat::stop_pieces() const {
  std::vector<std::string> out;
  for (int32_t id : stop_ids()) out.push_back(tokenizer().piece(id));
  return out;
}

}  // namespace mlxft
