#include "mlxft/data/convert.h"

#include "mlxft/data/records.h"

namespace mlxft {

namespace {

[[noreturn]] void cannot(const std::string& why) {
  throw RecordError(RecordErrorKind::UnknownShape, why);
}

const char* role_name(Role r) {
  switch (r) {
    case Role::System: return "system";
    case Role::User: return "user";
    case Role::Assistant: return "assistant";
    case Role::Tool: return "tool";
  }
  return "?";
}

// A tool result's text as a record carries it.
std::string result_text(const Message& m) {
  if (!m.content.empty()) return m.content;
  return m.tool_result.is_string() ? m.tool_result.get<std::string>() : m.tool_result.dump();
}

void add_common(OrderedJson& record, const Conversation& c) {
  if (!c.tools.empty() && !c.tools_from_catalogue) record["tools"] = c.tools;
  if (c.label) record["label"] = *c.label;
}

OrderedJson to_messages(const Conversation& c) {
  OrderedJson messages = OrderedJson::array();
  for (const Message& m : c.messages) {
    OrderedJson j = {{"role", role_name(m.role)}};
    if (m.role == Role::Tool) {
      j["tool_call_id"] = m.tool_call_id;
      j["content"] = result_text(m);
    } else if (!m.tool_calls.empty()) {
      j["content"] = "";
      j["tool_calls"] = OrderedJson::array();
      for (const ToolCall& call : m.tool_calls) {
        j["tool_calls"].push_back({{"id", call.id},
                                   {"type", "function"},
                                   {"function", {{"name", call.name}, {"arguments", call.arguments}}}});
      }
    } else {
      j["content"] = m.content;
    }
    messages.push_back(std::move(j));
  }
  OrderedJson record = {{"messages", std::move(messages)}};
  add_common(record, c);
  return record;
}

// Results must follow their calls in call order: the readers of the id-less shapes link a result to
// the oldest unanswered call.
void check_result_order(const Conversation& c) {
  std::vector<std::string> pending;
  for (const Message& m : c.messages) {
    for (const ToolCall& call : m.tool_calls) pending.push_back(call.id);
    if (m.role != Role::Tool) continue;
    if (pending.empty() || pending.front() != m.tool_call_id)
      cannot("tool results come in another order than their calls; convert it to messages (ids kept)");
    pending.erase(pending.begin());
  }
}

OrderedJson to_sharegpt(const Conversation& c) {
  check_result_order(c);
  OrderedJson turns = OrderedJson::array();
  for (const Message& m : c.messages) {
    if (m.role == Role::Tool) {
      turns.push_back({{"from", "observation"}, {"value", result_text(m)}});
    } else if (!m.tool_calls.empty()) {
      OrderedJson calls = OrderedJson::array();
      for (const ToolCall& call : m.tool_calls)
        calls.push_back({{"name", call.name}, {"arguments", call.arguments}});
      turns.push_back({{"from", "function_call"}, {"value", (calls.size() == 1 ? calls[0] : calls).dump()}});
    } else {
      static const char* from[] = {"system", "human", "gpt", "observation"};
      turns.push_back({{"from", from[static_cast<int>(m.role)]}, {"value", m.content}});
    }
  }
  OrderedJson record = {{"conversations", std::move(turns)}};
  add_common(record, c);
  return record;
}

// The seed's shape: each run of assistant and tool messages becomes one assistant message.
OrderedJson to_seed_conversations(const Conversation& c) {
  check_result_order(c);
  OrderedJson turns = OrderedJson::array();
  const auto& ms = c.messages;
  for (size_t i = 0; i < ms.size();) {
    if (ms[i].role != Role::Assistant) {
      if (ms[i].role == Role::Tool) cannot("a tool result without a call before it");
      turns.push_back({{"role", role_name(ms[i].role)}, {"content", ms[i].content}});
      ++i;
      continue;
    }
    std::string text;
    bool had_text = false;
    for (; i < ms.size() && (ms[i].role == Role::Assistant || ms[i].role == Role::Tool); ++i) {
      const Message& m = ms[i];
      if (m.role == Role::Assistant && m.tool_calls.empty()) {
        text += (text.empty() ? "" : "\n\n") + m.content;
        had_text = true;
        continue;
      }
      if (m.role == Role::Tool) {
        const std::string result = result_text(m).empty() ? "{}" : result_text(m);
        if (result.find("\n\n") != std::string::npos)
          cannot("a tool result holds a blank line, which ends a plain-text Result; convert it to messages");
        text += "\n\nResult: " + result;
        continue;
      }
      if (had_text)
        cannot("assistant text before a tool call in one turn; convert it to messages or sharegpt");
      if (m.tool_calls.size() > 1) cannot("parallel tool calls; convert it to messages or sharegpt");
      const ToolCall& call = m.tool_calls[0];
      text += std::string(text.empty() ? "" : "\n\n") + "tool_call: " + call.name +
              "\narguments: " + call.arguments.dump();
    }
    turns.push_back({{"role", "assistant"}, {"content", text}});
  }
  OrderedJson record = {{"conversations", std::move(turns)}};
  add_common(record, c);
  return record;
}

}  // namespace

const std::vector<std::string>& convert_target_names() {
  static const std::vector<std::string> names = {"messages", "sharegpt", "conversations"};
  return names;
}

OrderedJson conversation_to_record(const Conversation& conversation, const std::string& target) {
  if (conversation.raw_text) cannot("a {\"text\"} record has no messages to convert");
  if (target == "messages") return to_messages(conversation);
  if (target == "sharegpt") return to_sharegpt(conversation);
  if (target == "conversations") return to_seed_conversations(conversation);
  cannot("unknown target shape \"" + target + "\"");
}

}  // namespace mlxft
