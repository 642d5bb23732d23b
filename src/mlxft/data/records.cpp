#include "mlxft/data/records.h"

#include <map>
#include <set>

#include "mlxft/data/tool_text.h"
#include "mlxft/util/prng.h"
#include "mlxft/util/utf8.h"

namespace mlxft {

namespace {

[[noreturn]] void fail(RecordErrorKind kind, const std::string& message) {
  throw RecordError(kind, message);
}

std::string at_msg(size_t i) {
  return "message " + std::to_string(i + 1);
}

bool is_blank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

bool is_mistral_id(const std::string& id) {
  if (id.size() != 9) return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

std::optional<bool> read_label(const OrderedJson& record) {
  if (!record.contains("label") || record["label"].is_null()) return std::nullopt;
  const auto& l = record["label"];
  if (l.is_boolean()) return l.get<bool>();
  if (l.is_string()) {
    const auto s = l.get<std::string>();
    if (s == "desirable" || s == "true") return true;
    if (s == "undesirable" || s == "false") return false;
  }
  fail(RecordErrorKind::BadLabel,
       "label must be true, false, \"desirable\" or \"undesirable\", got " + l.dump());
}

// A text field: a string, or (messages format) a list of {"type": "text", "text"} chunks.
std::string read_text(const OrderedJson& v, const std::string& where, const DataOptions& options,
                      bool allow_empty) {
  std::string text;
  if (v.is_string()) {
    text = v.get<std::string>();
  } else if (v.is_array()) {
    for (const auto& chunk : v) {
      if (!chunk.is_object() || chunk.value("type", "") != "text" || !chunk.contains("text") ||
          !chunk["text"].is_string()) {
        fail(RecordErrorKind::NonStringContent,
             where + ": content chunks must be {\"type\": \"text\", \"text\": \"...\"}");
      }
      const auto part = chunk["text"].get<std::string>();
      if (part.empty()) continue;
      text += (text.empty() ? "" : "\n\n") + part;
    }
  } else if (!(v.is_null() && allow_empty)) {
    fail(RecordErrorKind::NonStringContent,
         where + ": content must be a string, got " + std::string(v.type_name()));
  }
  if (!allow_empty && is_blank(text)) fail(RecordErrorKind::EmptyContent, where + ": content is empty");
  if (text.size() > options.max_message_bytes) {
    fail(RecordErrorKind::MessageTooLarge, where + ": content is " + std::to_string(text.size()) +
                                               " bytes, over the limit of " +
                                               std::to_string(options.max_message_bytes));
  }
  return text;
}

// mistral-common's role transitions, plus: the first non-system message is a
// user message and the last one an assistant message.
void check_order(const std::vector<Message>& messages) {
  static const std::map<Role, std::set<Role>> kNext = {
      {Role::System, {Role::User, Role::Assistant, Role::System}},
      {Role::User, {Role::Assistant, Role::System, Role::User}},
      {Role::Assistant, {Role::Assistant, Role::User, Role::Tool}},
      {Role::Tool, {Role::Assistant, Role::Tool, Role::User}}};
  static const std::map<Role, std::string> kName = {
      {Role::System, "system"}, {Role::User, "user"}, {Role::Assistant, "assistant"}, {Role::Tool, "tool"}};
  bool seen_user = false;
  for (size_t i = 0; i < messages.size(); ++i) {
    const Role r = messages[i].role;
    if (!seen_user && r != Role::System && r != Role::User) {
      fail(RecordErrorKind::RoleOrder,
           at_msg(i) + ": the conversation must start with a user message, got " + kName.at(r));
    }
    seen_user |= r == Role::User;
    if (i > 0 && !kNext.at(messages[i - 1].role).count(r)) {
      fail(RecordErrorKind::RoleOrder,
           at_msg(i) + ": " + kName.at(r) + " cannot follow " + kName.at(messages[i - 1].role));
    }
  }
  if (messages.empty() || messages.back().role != Role::Assistant) {
    fail(RecordErrorKind::RoleOrder, "the conversation must end with an assistant message");
  }
}

// mistral-common merges consecutive assistant messages and cannot encode a
// merged turn that has both text and tool calls.
void check_assistant_runs(const std::vector<Message>& messages) {
  bool text = false, calls = false;
  for (size_t i = 0; i < messages.size(); ++i) {
    const auto& m = messages[i];
    if (m.role != Role::Assistant) {
      text = calls = false;
      continue;
    }
    text |= !m.content.empty();
    calls |= !m.tool_calls.empty();
    if (text && calls) {
      fail(RecordErrorKind::ContentAndToolCalls,
           "consecutive assistant messages mix text and tool calls (around " + at_msg(i) +
               "); Mistral v3 cannot encode that turn");
    }
  }
}

Role read_role(const OrderedJson& m, const char* key, size_t i) {
  if (!m.contains(key) || !m[key].is_string())
    fail(RecordErrorKind::UnknownShape, at_msg(i) + ": no \"" + std::string(key) + "\" string");
  const auto r = m[key].get<std::string>();
  if (r == "system") return Role::System;
  if (r == "user" || r == "human") return Role::User;
  if (r == "assistant" || r == "gpt") return Role::Assistant;
  if (r == "tool") return Role::Tool;
  fail(RecordErrorKind::UnknownRole, at_msg(i) + ": unknown role \"" + r + "\"");
}

// The ids of a record's tool calls. A written id that Mistral v3 accepts (9 characters of
// [a-zA-Z0-9]) is kept; any other (OpenAI's "call_...", none at all) becomes the id the seed's
// plain-text conversion gives the same call: make_tool_call_id(mix_seed(mix_seed(id_seed, slot), k)),
// where slot is the message's index with each run of assistant and tool messages counted as one
// message (the seed writes such a run as one assistant message) and k the call's number in the run.
// So one conversation gets the same ids in every shape. Tool results name their call by the id as
// written; without one, a result answers the oldest unanswered call (of its "name", if it has one).
class CallIds {
 public:
  explicit CallIds(uint64_t id_seed) : id_seed_(id_seed) {}

  // Before each message, with its role: a message that does not continue a run takes the next slot.
  void at_message(Role role) {
    const bool run = role == Role::Assistant || role == Role::Tool;
    if (!(run && in_run_)) {
      ++slot_;
      calls_in_run_ = 0;
    }
    in_run_ = run;
  }
  // The id of the next call of the run; `written` as the record gives it ("" when none).
  std::string call(const std::string& written, const std::string& name) {
    std::string id = is_mistral_id(written)
                         ? written
                         : make_tool_call_id(mix_seed(mix_seed(id_seed_, static_cast<uint64_t>(slot_)),
                                                      static_cast<uint64_t>(calls_in_run_)));
    for (uint64_t k = 1; !is_mistral_id(written) && used_.count(id); ++k)  // never two calls with one id
      id = make_tool_call_id(mix_seed(id_seed_, 0x9E3779B97F4A7C15ull + k));
    ++calls_in_run_;
    used_.insert(id);
    if (!written.empty()) written_[written] = id;
    pending_.push_back({id, name});
    return id;
  }
  bool has_pending() const { return !pending_.empty(); }
  int64_t slot() const { return slot_; }
  // The call a result answers (and marks answered): by the written id, or the oldest pending one
  // (of `name` when given). "" when none matches.
  std::string answer(const std::optional<std::string>& written, const std::string& name) {
    for (size_t i = 0; i < pending_.size(); ++i) {
      const auto& [id, call_name] = pending_[i];
      const bool match = written ? (written_.count(*written) ? written_.at(*written) == id : *written == id)
                                 : (name.empty() || name == call_name);
      if (match) {
        std::string found = id;
        pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(i));
        return found;
      }
    }
    return {};
  }

 private:
  uint64_t id_seed_;
  int64_t slot_ = -1;
  bool in_run_ = false;
  int calls_in_run_ = 0;
  std::set<std::string> used_;
  std::map<std::string, std::string> written_;                // ids as written -> ids rendered
  std::vector<std::pair<std::string, std::string>> pending_;  // (id, name) not yet answered, in order
};

OrderedJson read_arguments(const OrderedJson& fn, const std::string& where) {
  if (!fn.contains("arguments") || fn["arguments"].is_null()) return OrderedJson::object();
  const auto& a = fn["arguments"];
  if (a.is_object()) return a;
  if (a.is_string()) {
    const auto text = a.get<std::string>();
    if (is_blank(text)) return OrderedJson::object();
    auto parsed = OrderedJson::parse(text, nullptr, false);
    if (!parsed.is_discarded() && parsed.is_object()) return parsed;
  }
  fail(RecordErrorKind::BadArguments,
       where + ": arguments must be a JSON object (or a string holding one), got " + a.dump());
}

// The record's "tools": a list (or, as ShareGPT sets store it, a string holding one) of
// {"type": "function", "function": {...}} or of bare {"name", "description", "parameters"} functions,
// which are wrapped.
OrderedJson read_tools(const OrderedJson& record) {
  if (!record.contains("tools") || record["tools"].is_null()) return OrderedJson::array();
  OrderedJson tools = record["tools"];
  if (tools.is_string()) {
    const auto text = tools.get<std::string>();
    if (is_blank(text)) return OrderedJson::array();
    tools = OrderedJson::parse(text, nullptr, false);
    if (tools.is_discarded()) fail(RecordErrorKind::BadTools, "\"tools\" is a string but not valid JSON");
  }
  if (!tools.is_array()) fail(RecordErrorKind::BadTools, "\"tools\" must be a list");
  for (size_t i = 0; i < tools.size(); ++i) {
    auto& t = tools[i];
    const std::string where = "tool " + std::to_string(i + 1);
    if (t.is_object() && !t.contains("function") && t.contains("name"))
      t = OrderedJson{{"type", "function"}, {"function", t}};
    if (!t.is_object() || !t.contains("function") || !t["function"].is_object()) {
      fail(RecordErrorKind::BadTools, where + ": must be {\"type\": \"function\", \"function\": {...}}");
    }
    const auto& f = t["function"];
    if (!f.contains("name") || !f["name"].is_string() || f["name"].get<std::string>().empty()) {
      fail(RecordErrorKind::BadTools, where + ": function has no name");
    }
    if (f.contains("description") && !f["description"].is_string())
      fail(RecordErrorKind::BadTools, where + ": description must be a string");
    if (f.contains("parameters") && !f["parameters"].is_object())
      fail(RecordErrorKind::BadTools, where + ": parameters must be an object");
  }
  return tools;
}

// A ShareGPT function_call value: JSON text (or JSON) of {"name", "arguments"} or a list of them.
std::vector<ToolCall> read_function_calls(const OrderedJson& value, const std::string& where) {
  OrderedJson calls = value;
  if (value.is_string()) calls = OrderedJson::parse(value.get<std::string>(), nullptr, false);
  if (calls.is_object()) calls = OrderedJson::array({calls});
  if (calls.is_discarded() || !calls.is_array() || calls.empty()) {
    fail(RecordErrorKind::BadArguments,
         where + ": a function_call must be JSON {\"name\", \"arguments\"} or a list of them");
  }
  std::vector<ToolCall> out;
  for (const auto& c : calls) {
    const std::string cw = where + " call " + std::to_string(out.size() + 1);
    if (!c.is_object() || !c.contains("name") || !c["name"].is_string() ||
        c["name"].get<std::string>().empty())
      fail(RecordErrorKind::UnknownShape, cw + ": no function name");
    out.push_back(ToolCall{"", c["name"].get<std::string>(), read_arguments(c, cw)});
  }
  return out;
}

// The "conversations" key: the seed's role/content messages (assistant text may hold plain-text tool
// calls) and ShareGPT's from/value messages (human, gpt, system; function_call and observation, or
// tool, for tool calls and their results; a top-level "system" and "tools").
ParsedRecord parse_conversations(const OrderedJson& record, const DataOptions& options, uint64_t id_seed) {
  const auto& list = record["conversations"];
  if (!list.is_array() || list.empty())
    fail(RecordErrorKind::UnknownShape, "\"conversations\" must be a non-empty list");
  ParsedRecord out;
  out.has_context = record.contains("context") && record["context"].is_object();
  auto& conv = out.conversation;
  conv.tools = read_tools(record);
  std::vector<Message> input;
  std::vector<int64_t> slots;      // each input message's slot (CallIds)
  std::vector<bool> text_replies;  // assistant text, which may hold the seed's plain-text calls
  CallIds ids(id_seed);
  auto push = [&](Message m, bool text_reply) {
    ids.at_message(m.role);
    slots.push_back(ids.slot());
    text_replies.push_back(text_reply);
    input.push_back(std::move(m));
  };
  if (record.contains("system") && record["system"].is_string() &&
      !is_blank(record["system"].get<std::string>())) {
    Message system;
    system.role = Role::System;
    system.content = record["system"].get<std::string>();
    push(std::move(system), false);
  }
  for (size_t i = 0; i < list.size(); ++i) {
    const auto& m = list[i];
    const std::string where = at_msg(i);
    if (!m.is_object()) fail(RecordErrorKind::UnknownShape, where + " is not an object");
    const char* role_key = m.contains("role") ? "role" : "from";
    const char* content_key = m.contains("content") ? "content" : "value";
    if (!m.contains(content_key)) fail(RecordErrorKind::EmptyContent, where + ": no \"content\"");
    const std::string role =
        m.contains(role_key) && m[role_key].is_string() ? m[role_key].get<std::string>() : "";
    Message msg;
    if (role == "function_call") {
      msg.role = Role::Assistant;
      if (ids.has_pending())
        fail(RecordErrorKind::UnansweredToolCall, where + ": tool call(s) not answered before this message");
      ids.at_message(Role::Assistant);
      msg.tool_calls = read_function_calls(m[content_key], where);
      for (auto& call : msg.tool_calls) call.id = ids.call("", call.name);
      out.tool_calls += static_cast<int>(msg.tool_calls.size());
      slots.push_back(ids.slot());
      text_replies.push_back(false);
      input.push_back(std::move(msg));
      continue;
    }
    if (role == "observation" || role == "tool") {
      msg.role = Role::Tool;
      msg.content = read_text(m[content_key], where, options, true);
      if (!ids.has_pending())
        fail(RecordErrorKind::ToolResultWithoutCall, where + ": tool result with no tool call before it");
      ids.at_message(Role::Tool);
      msg.tool_call_id = ids.answer(std::nullopt, "");
      msg.tool_result = msg.content.empty() ? OrderedJson::object() : json_or_string(msg.content);
      slots.push_back(ids.slot());
      text_replies.push_back(false);
      input.push_back(std::move(msg));
      continue;
    }
    msg.role = read_role(m, role_key, i);
    msg.content = read_text(m[content_key], where, options, false);
    if (msg.role == Role::Assistant && ids.has_pending())
      fail(RecordErrorKind::UnansweredToolCall, where + ": tool call(s) not answered before this message");
    const bool text_reply = msg.role == Role::Assistant;
    push(std::move(msg), text_reply);
  }
  check_order(input);
  for (size_t i = 0; i < input.size(); ++i) {
    if (!text_replies[i]) {
      conv.messages.push_back(std::move(input[i]));
      continue;
    }
    auto converted = convert_tool_text(input[i].content, options.tool_format,
                                       mix_seed(id_seed, static_cast<uint64_t>(slots[i])));
    out.tool_calls += converted.native_calls + converted.text_calls;
    conv.native_calls += converted.native_calls;
    conv.text_calls += converted.text_calls;
    conv.dropped_prose += converted.dropped_prose;
    conv.malformed_calls += converted.malformed_calls;
    for (auto& w : converted.warnings) conv.warnings.push_back(at_msg(i) + ": " + w);
    for (auto& m : converted.messages) conv.messages.push_back(std::move(m));
  }
  return out;
}

ParsedRecord parse_messages(const OrderedJson& record, const DataOptions& options, uint64_t id_seed) {
  const auto& list = record["messages"];
  if (!list.is_array() || list.empty())
    fail(RecordErrorKind::UnknownShape, "\"messages\" must be a non-empty list");
  ParsedRecord out;
  auto& conv = out.conversation;
  conv.tools = read_tools(record);
  CallIds ids(id_seed);
  for (size_t i = 0; i < list.size(); ++i) {
    const auto& m = list[i];
    const std::string where = at_msg(i);
    if (!m.is_object()) fail(RecordErrorKind::UnknownShape, where + " is not an object");
    Message msg;
    msg.role = read_role(m, "role", i);
    ids.at_message(msg.role);
    const OrderedJson content = m.contains("content") ? m["content"] : OrderedJson();
    if (msg.role == Role::Assistant) {
      const bool has_calls = m.contains("tool_calls") && !m["tool_calls"].is_null();
      msg.content = read_text(content, where, options, has_calls);
      if (ids.has_pending())
        fail(RecordErrorKind::UnansweredToolCall, where + ": tool call(s) not answered before this message");
      if (has_calls) {
        const auto& calls = m["tool_calls"];
        if (!calls.is_array() || calls.empty())
          fail(RecordErrorKind::UnknownShape, where + ": tool_calls must be a non-empty list");
        if (!is_blank(msg.content)) {
          fail(RecordErrorKind::ContentAndToolCalls,
               where + ": has both content and tool_calls (Mistral v3 cannot encode both)");
        }
        msg.content.clear();
        for (const auto& c : calls) {
          const std::string cw = where + " tool call " + std::to_string(msg.tool_calls.size() + 1);
          if (!c.is_object() || !c.contains("function") || !c["function"].is_object()) {
            fail(RecordErrorKind::UnknownShape,
                 cw + ": must be {\"id\", \"type\": \"function\", \"function\": {...}}");
          }
          const auto& fn = c["function"];
          if (!fn.contains("name") || !fn["name"].is_string() || fn["name"].get<std::string>().empty()) {
            fail(RecordErrorKind::UnknownShape, cw + ": function has no name");
          }
          ToolCall call;
          call.name = fn["name"].get<std::string>();
          call.arguments = read_arguments(fn, cw);
          const std::string written =
              c.contains("id") && c["id"].is_string() ? c["id"].get<std::string>() : "";
          call.id = ids.call(written, call.name);
          msg.tool_calls.push_back(std::move(call));
        }
        out.tool_calls += static_cast<int>(msg.tool_calls.size());
      } else if (is_blank(msg.content)) {
        fail(RecordErrorKind::EmptyContent, where + ": assistant message has neither content nor tool_calls");
      }
    } else if (msg.role == Role::Tool) {
      msg.content = read_text(content, where, options, true);
      std::optional<std::string> written;
      if (m.contains("tool_call_id") && m["tool_call_id"].is_string())
        written = m["tool_call_id"].get<std::string>();
      const std::string name =
          m.contains("name") && m["name"].is_string() ? m["name"].get<std::string>() : "";
      if (!ids.has_pending())
        fail(RecordErrorKind::ToolResultWithoutCall, where + ": tool result with no tool call before it");
      msg.tool_call_id = ids.answer(written, name);
      if (msg.tool_call_id.empty()) {
        fail(RecordErrorKind::UnknownToolCallId,
             where + (written ? ": tool_call_id \"" + *written + "\" answers no pending tool call"
                              : ": tool message has no tool_call_id and no pending call is named \"" + name +
                                    "\""));
      }
      msg.tool_result = msg.content.empty() ? OrderedJson::object() : json_or_string(msg.content);
    } else {
      msg.content = read_text(content, where, options, false);
    }
    conv.messages.push_back(std::move(msg));
  }
  check_order(conv.messages);
  return out;
}

ParsedRecord parse_simple(const OrderedJson& record, RecordFormat format, const DataOptions& options) {
  ParsedRecord out;
  auto& conv = out.conversation;
  auto field = [&](const char* key, Role role) {
    if (!record.contains(key)) fail(RecordErrorKind::UnknownShape, std::string("no \"") + key + "\" field");
    Message m;
    m.role = role;
    m.content = read_text(record[key], std::string("\"") + key + "\"", options, false);
    conv.messages.push_back(std::move(m));
  };
  if (format == RecordFormat::Text) {
    conv.raw_text = true;
    field("text", Role::Assistant);
  } else {
    field("prompt", Role::User);
    field("completion", Role::Assistant);
  }
  return out;
}

}  // namespace

const char* to_string(RecordFormat format) {
  switch (format) {
    case RecordFormat::Conversations: return "conversations";
    case RecordFormat::ShareGpt: return "sharegpt";
    case RecordFormat::Messages: return "messages";
    case RecordFormat::Text: return "text";
    case RecordFormat::PromptCompletion: return "prompt_completion";
  }
  return "?";
}

const char* to_string(RecordErrorKind kind) {
  switch (kind) {
    case RecordErrorKind::NotAnObject: return "not an object";
    case RecordErrorKind::UnknownShape: return "unknown shape";
    case RecordErrorKind::UnknownRole: return "unknown role";
    case RecordErrorKind::RoleOrder: return "role order";
    case RecordErrorKind::EmptyContent: return "empty content";
    case RecordErrorKind::NonStringContent: return "non-string content";
    case RecordErrorKind::ContentAndToolCalls: return "content and tool calls";
    case RecordErrorKind::BadTools: return "bad tools";
    case RecordErrorKind::BadArguments: return "bad arguments";
    case RecordErrorKind::BadLabel: return "bad label";
    case RecordErrorKind::MessageTooLarge: return "message too large";
    case RecordErrorKind::ToolResultWithoutCall: return "tool result without call";
    case RecordErrorKind::UnansweredToolCall: return "unanswered tool call";
    case RecordErrorKind::UnknownToolCallId: return "unknown tool call id";
    case RecordErrorKind::NothingToTrain: return "nothing to train";
    case RecordErrorKind::InvalidJson: return "invalid JSON";
    case RecordErrorKind::InvalidUtf8: return "invalid UTF-8";
  }
  return "unknown";
}

std::optional<RecordFormat> parse_format_name(std::string_view name) {
  for (auto f : {RecordFormat::Conversations, RecordFormat::ShareGpt, RecordFormat::Messages,
                 RecordFormat::Text, RecordFormat::PromptCompletion}) {
    if (name == to_string(f)) return f;
  }
  if (name == "claude") return RecordFormat::Conversations;  // another name, as recipes accept it
  return std::nullopt;
}

std::optional<RecordFormat> detect_format(const OrderedJson& record) {
  if (!record.is_object()) return std::nullopt;
  if (record.contains("conversations")) {
    const auto& list = record["conversations"];
    const bool from_value =
        list.is_array() && !list.empty() && list[0].is_object() && list[0].contains("from");
    return from_value ? RecordFormat::ShareGpt : RecordFormat::Conversations;
  }
  if (record.contains("messages")) return RecordFormat::Messages;
  if (record.contains("prompt") && record.contains("completion")) return RecordFormat::PromptCompletion;
  if (record.contains("text")) return RecordFormat::Text;
  return std::nullopt;
}

ParsedRecord parse_record(const OrderedJson& record, RecordFormat format, const DataOptions& options,
                          uint64_t id_seed) {
  if (!record.is_object()) fail(RecordErrorKind::NotAnObject, "the record is not a JSON object");
  const auto shape = detect_format(record);
  // The two shapes under "conversations" are read by one parser, message by message.
  const auto family = [](RecordFormat f) {
    return f == RecordFormat::ShareGpt ? RecordFormat::Conversations : f;
  };
  if (!shape || family(*shape) != family(format)) {
    fail(
        RecordErrorKind::UnknownShape, std::string("not a \"") + to_string(format) + "\" record (keys: " +
                                           [&] {
                                             std::string keys;
                                             for (const auto& [k, v] : record.items())
                                               keys += (keys.empty() ? "" : ", ") + k;
                                             return keys.empty() ? std::string("none") : keys;
                                           }() +
                                           ")");
  }
  const auto label = read_label(record);
  ParsedRecord out;
  switch (format) {
    case RecordFormat::Conversations:
    case RecordFormat::ShareGpt: out = parse_conversations(record, options, id_seed); break;
    case RecordFormat::Messages: out = parse_messages(record, options, id_seed); break;
    default: out = parse_simple(record, format, options); break;
  }
  check_assistant_runs(out.conversation.messages);
  out.conversation.label = label;
  return out;
}

}  // namespace mlxft
