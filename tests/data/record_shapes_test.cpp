// The tool-calling data people have (data/records.h), one conversation in every shape: the seed's
// plain-text calls, OpenAI / TRL messages (ids that Mistral refuses, arguments as an object or a JSON
// string, a result linked by name only) and ShareGPT (function_call / observation or tool, top-level
// system and tools as a JSON string of bare functions). Each reads to the same conversation and
// renders to the same Mistral v3 ids and loss mask as the seed shape; `data convert` writes each shape
// back so that it renders the same again.
#include <gtest/gtest.h>

#include <cctype>
#include <sstream>

#include "mlxft/chat/chat_format.h"
#include "mlxft/data/convert.h"
#include "mlxft/data/records.h"
#include "mlxft/tokenizer/load.h"
#include "support/test_support.h"
#include "tokenizer/bpe_test_support.h"

namespace mlxft {
namespace {

constexpr uint64_t kIdSeed = 7;

const char* kTools =
    R"([{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city", )"
    R"("parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string"}}}}}, )"
    R"({"type": "function", "function": {"name": "get_time", "description": "Time in a zone", )"
    R"("parameters": {"type": "object", "properties": {"tz": {"type": "string"}}}}}])";

// The seed's shape: one assistant message holds both calls, their results and the reply.
std::string seed_record() {
  return std::string(
             R"({"conversations": [{"role": "system", "content": "Be brief."}, )"
             R"({"role": "user", "content": "Weather and time in Paris?"}, )"
             R"({"role": "assistant", "content": "tool_call: get_weather\narguments: {\"city\": \"Paris\", )"
             R"(\"unit\": \"c\"}\n\nResult: {\"temp\": 21}\n\ntool_call: get_time\narguments: {\"tz\": )"
             R"(\"CET\"}\n\nResult: {\"time\": \"10:00\"}\n\nIt is 21 C at 10:00."}, )"
             R"({"role": "user", "content": "Thanks"}, {"role": "assistant", "content": "You are welcome."}], )"
             R"("tools": )") +
         kTools + "}";
}

// OpenAI / TRL: ids as OpenAI writes them, arguments once as a JSON string, the second result
// linked only by the function's name.
std::string messages_record() {
  return std::string(
             R"({"messages": [{"role": "system", "content": "Be brief."}, )"
             R"({"role": "user", "content": "Weather and time in Paris?"}, )"
             R"({"role": "assistant", "content": null, "tool_calls": [{"id": "call_9fJx2LwQ", "type": "function", )"
             R"("function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\", \"unit\": \"c\"}"}}]}, )"
             R"({"role": "tool", "tool_call_id": "call_9fJx2LwQ", "content": "{\"temp\": 21}"}, )"
             R"({"role": "assistant", "content": "", "tool_calls": [{"id": "call_2", "type": "function", )"
             R"("function": {"name": "get_time", "arguments": {"tz": "CET"}}}]}, )"
             R"({"role": "tool", "name": "get_time", "content": "{\"time\": \"10:00\"}"}, )"
             R"({"role": "assistant", "content": "It is 21 C at 10:00."}, )"
             R"({"role": "user", "content": "Thanks"}, {"role": "assistant", "content": "You are welcome."}], )"
             R"("tools": )") +
         kTools + "}";
}

// ShareGPT as Glaive / xLAM-style sets share it: a top-level system, tools as a JSON string of bare
// functions, function_call / observation turns (`result_role` names the result turns).
std::string sharegpt_record(const std::string& result_role) {
  nlohmann::ordered_json bare = nlohmann::ordered_json::array();
  for (const auto& t : nlohmann::ordered_json::parse(kTools)) bare.push_back(t["function"]);
  nlohmann::ordered_json r = {
      {"system", "Be brief."},
      {"conversations",
       {{{"from", "human"}, {"value", "Weather and time in Paris?"}},
        {{"from", "function_call"},
         {"value", R"({"name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}})"}},
        {{"from", result_role}, {"value", R"({"temp": 21})"}},
        {{"from", "function_call"}, {"value", R"({"name": "get_time", "arguments": "{\"tz\": \"CET\"}"})"}},
        {{"from", result_role}, {"value", R"({"time": "10:00"})"}},
        {{"from", "gpt"}, {"value", "It is 21 C at 10:00."}},
        {{"from", "human"}, {"value", "Thanks"}},
        {{"from", "gpt"}, {"value", "You are welcome."}}}},
      {"tools", bare.dump()}};
  return r.dump();
}

ParsedRecord parse(const std::string& text) {
  const auto j = OrderedJson::parse(text);
  const auto format = detect_format(j);
  EXPECT_TRUE(format.has_value()) << text;
  return parse_record(j, *format, DataOptions{}, kIdSeed);
}

bool is_mistral_id(const std::string& id) {
  if (id.size() != 9) return false;
  for (char c : id)
    if (!std::isalnum(static_cast<unsigned char>(c))) return false;
  return true;
}

// Same messages, calls (ids, names, arguments), links and results, same tools.
void expect_same_conversation(const Conversation& a, const Conversation& b, const std::string& what) {
  EXPECT_EQ(a.tools, b.tools) << what;
  ASSERT_EQ(a.messages.size(), b.messages.size()) << what;
  for (size_t i = 0; i < a.messages.size(); ++i) {
    const Message& x = a.messages[i];
    const Message& y = b.messages[i];
    EXPECT_EQ(x.role, y.role) << what << " message " << i;
    EXPECT_EQ(x.content, y.content) << what << " message " << i;
    EXPECT_EQ(x.tool_call_id, y.tool_call_id) << what << " message " << i;
    EXPECT_EQ(x.tool_result, y.tool_result) << what << " message " << i;
    ASSERT_EQ(x.tool_calls.size(), y.tool_calls.size()) << what << " message " << i;
    for (size_t k = 0; k < x.tool_calls.size(); ++k) {
      EXPECT_EQ(x.tool_calls[k].id, y.tool_calls[k].id) << what << " message " << i;
      EXPECT_EQ(x.tool_calls[k].name, y.tool_calls[k].name) << what << " message " << i;
      EXPECT_EQ(x.tool_calls[k].arguments, y.tool_calls[k].arguments) << what << " message " << i;
    }
  }
}

TEST(RecordShapes, DetectsEachShape) {
  EXPECT_EQ(detect_format(OrderedJson::parse(seed_record())), RecordFormat::Conversations);
  EXPECT_EQ(detect_format(OrderedJson::parse(messages_record())), RecordFormat::Messages);
  EXPECT_EQ(detect_format(OrderedJson::parse(sharegpt_record("observation"))), RecordFormat::ShareGpt);
  EXPECT_EQ(parse_format_name("sharegpt"), RecordFormat::ShareGpt);
}

TEST(RecordShapes, EveryShapeReadsToTheSeedsConversationWithMistralIds) {
  const Conversation seed = parse(seed_record()).conversation;
  ASSERT_EQ(seed.native_calls, 2);
  ASSERT_EQ(seed.messages.size(), 9u);  // system, user, call, result, call, result, reply, user, reply
  std::vector<std::string> ids;
  for (const Message& m : seed.messages)
    for (const ToolCall& c : m.tool_calls) ids.push_back(c.id);
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_NE(ids[0], ids[1]);
  for (const auto& id : ids) EXPECT_TRUE(is_mistral_id(id)) << id;
  EXPECT_EQ(seed.messages[3].tool_call_id, ids[0]);
  EXPECT_EQ(seed.messages[5].tool_call_id, ids[1]);

  const auto messages = parse(messages_record());
  EXPECT_EQ(messages.tool_calls, 2);
  expect_same_conversation(messages.conversation, seed, "messages");
  for (const char* role : {"observation", "tool"}) {
    const auto sharegpt = parse(sharegpt_record(role));
    EXPECT_EQ(sharegpt.tool_calls, 2);
    expect_same_conversation(sharegpt.conversation, seed, std::string("sharegpt with ") + role);
  }
}

TEST(RecordShapes, AWrittenMistralIdIsKeptAndResultsFollowTheirIds) {
  // Parallel calls answered out of order: each result keeps its own call's id.
  const auto r = parse(
      R"({"messages": [{"role": "user", "content": "Both"}, {"role": "assistant", "tool_calls": [)"
      R"({"id": "abcDEF123", "type": "function", "function": {"name": "a", "arguments": {}}}, )"
      R"({"id": "call_long_openai_id", "type": "function", "function": {"name": "b", "arguments": "{}"}}]}, )"
      R"({"role": "tool", "tool_call_id": "call_long_openai_id", "content": "B"}, )"
      R"({"role": "tool", "tool_call_id": "abcDEF123", "content": "A"}, {"role": "assistant", "content": "done"}]})");
  const auto& m = r.conversation.messages;
  ASSERT_EQ(m[1].tool_calls.size(), 2u);
  EXPECT_EQ(m[1].tool_calls[0].id, "abcDEF123");
  const std::string b = m[1].tool_calls[1].id;
  EXPECT_TRUE(is_mistral_id(b)) << b;
  EXPECT_EQ(m[2].tool_call_id, b);
  EXPECT_EQ(m[3].tool_call_id, "abcDEF123");
  // Deterministic: the same record gives the same ids.
  EXPECT_EQ(
      parse(
          OrderedJson::parse(
              R"({"messages": [{"role": "user", "content": "Both"}, {"role": "assistant", "tool_calls": [)"
              R"({"id": "abcDEF123", "type": "function", "function": {"name": "a", "arguments": {}}}, )"
              R"({"id": "call_long_openai_id", "type": "function", "function": {"name": "b", "arguments": "{}"}}]}, )"
              R"({"role": "tool", "tool_call_id": "call_long_openai_id", "content": "B"}, )"
              R"({"role": "tool", "tool_call_id": "abcDEF123", "content": "A"}, {"role": "assistant", "content": "done"}]})")
              .dump())
          .conversation.messages[1]
          .tool_calls[1]
          .id,
      b);
}

TEST(RecordShapes, BrokenToolDataIsARecordErrorThatSaysWhy) {
  auto error_of = [](const std::string& text) {
    try {
      (void)parse(text);
    } catch (const RecordError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(
      error_of(
          R"({"conversations": [{"from": "human", "value": "x"}, {"from": "function_call", "value": "not json"}, )"
          R"({"from": "observation", "value": "r"}, {"from": "gpt", "value": "y"}]})")
          .find("message 2: a function_call must be JSON"),
      std::string::npos);
  EXPECT_NE(
      error_of(
          R"({"conversations": [{"from": "human", "value": "x"}, {"from": "observation", "value": "r"}, )"
          R"({"from": "gpt", "value": "y"}]})")
          .find("message 2: tool result with no tool call"),
      std::string::npos);
  EXPECT_NE(
      error_of(
          R"({"conversations": [{"from": "human", "value": "x"}, )"
          R"({"from": "function_call", "value": "{\"name\": \"f\", \"arguments\": {}}"}, {"from": "gpt", "value": "y"}]})")
          .find("message 3: tool call(s) not answered"),
      std::string::npos);
  EXPECT_NE(
      error_of(R"({"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [)"
               R"({"id": "call_1", "type": "function", "function": {"name": "f", "arguments": {}}}]}, )"
               R"({"role": "tool", "name": "g", "content": "r"}, {"role": "assistant", "content": "y"}]})")
          .find("no pending call is named \"g\""),
      std::string::npos);
}

// Every shape renders to the seed's Mistral v3 ids and mask, and so does every conversion of it.
TEST(RecordShapes, EveryShapeAndConversionRendersTheSeedsIdsAndMask) {
  MLXFT_REQUIRE_TOKENIZER();
  const auto tok = load_tokenizer(test::v3_tokenizer());
  const auto chat = make_chat_format("mistral-v3", *tok);
  const Rendered want = chat->render(parse(seed_record()).conversation);
  ASSERT_GT(want.ids.size(), 50u);
  const std::vector<std::string> shapes = {messages_record(), sharegpt_record("observation"),
                                           sharegpt_record("tool")};
  for (const auto& text : shapes) {
    const Rendered got = chat->render(parse(text).conversation);
    EXPECT_EQ(got.ids, want.ids) << text;
    EXPECT_EQ(got.mask, want.mask) << text;
  }
  for (const auto& text : {seed_record(), messages_record(), sharegpt_record("observation")}) {
    for (const std::string& to : convert_target_names()) {
      const OrderedJson written = conversation_to_record(parse(text).conversation, to);
      const Rendered got = chat->render(parse(written.dump()).conversation);
      EXPECT_EQ(got.ids, want.ids) << text << " -> " << to << ": " << written.dump();
      EXPECT_EQ(got.mask, want.mask) << text << " -> " << to;
    }
  }
}

// The same in ChatML (Hermes <tool_call> blocks, tools in the system turn), with SmolLM2's tokenizer.
TEST(RecordShapes, EveryShapeRendersTheSeedsChatMlIdsAndMask) {
  MLXFT_REQUIRE_FILE(test::smollm2_gguf(), "SmolLM2 GGUF");
  const auto chat = make_chat_format("chatml", *test::smollm2_tokenizer());
  const Rendered want = chat->render(parse(seed_record()).conversation);
  ASSERT_GT(want.ids.size(), 50u);
  for (const auto& text : {messages_record(), sharegpt_record("observation"), sharegpt_record("tool")}) {
    const Rendered got = chat->render(parse(text).conversation);
    EXPECT_EQ(got.ids, want.ids) << text;
    EXPECT_EQ(got.mask, want.mask) << text;
  }
}

TEST(RecordShapes, TheSeedShapeRefusesWhatItCannotExpress) {
  const auto parallel = parse(
      R"({"messages": [{"role": "user", "content": "Both"}, {"role": "assistant", "tool_calls": [)"
      R"({"id": "abcDEF123", "type": "function", "function": {"name": "a", "arguments": {}}}, )"
      R"({"id": "abcDEF124", "type": "function", "function": {"name": "b", "arguments": {}}}]}, )"
      R"({"role": "tool", "tool_call_id": "abcDEF123", "content": "A"}, )"
      R"({"role": "tool", "tool_call_id": "abcDEF124", "content": "B"}, {"role": "assistant", "content": "done"}]})");
  try {
    (void)conversation_to_record(parallel.conversation, "conversations");
    ADD_FAILURE() << "parallel calls were written in the seed's shape";
  } catch (const RecordError& e) {
    EXPECT_NE(std::string(e.what()).find("parallel tool calls"), std::string::npos) << e.what();
  }
  // ShareGPT keeps them: a function_call list, results in call order.
  const OrderedJson sharegpt = conversation_to_record(parallel.conversation, "sharegpt");
  EXPECT_EQ(sharegpt["conversations"][1]["from"], "function_call");
  EXPECT_TRUE(OrderedJson::parse(sharegpt["conversations"][1]["value"].get<std::string>()).is_array());
}

TEST(RecordShapes, DataConvertAndCheckNameTheShapes) {
  test::TempDir dir;
  test::write_file(dir / "sharegpt.jsonl",
                   sharegpt_record("observation") + "\n" + sharegpt_record("tool") + "\n");
  const auto converted = test::run_mlxft("data convert '" + (dir / "sharegpt.jsonl").string() +
                                         "' --to messages --out '" + (dir / "messages.jsonl").string() + "'");
  ASSERT_EQ(converted.exit_code, 0) << converted.output;
  EXPECT_NE(converted.output.find("format sharegpt (detected); 2 written as messages"), std::string::npos)
      << converted.output;
  std::istringstream lines(test::read_file(dir / "messages.jsonl"));
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    const auto j = OrderedJson::parse(line);
    ASSERT_TRUE(j.contains("messages")) << line;
    EXPECT_TRUE(is_mistral_id(j["messages"][2]["tool_calls"][0]["id"].get<std::string>())) << line;
    EXPECT_EQ(j["messages"][3]["tool_call_id"], j["messages"][2]["tool_calls"][0]["id"]) << line;
    ++n;
  }
  EXPECT_EQ(n, 2);
  if (!test::v3_tokenizer().empty()) {
    const auto check =
        test::run_mlxft("data check --data '" + (dir / "sharegpt.jsonl").string() + "' --tokenizer '" +
                        test::v3_tokenizer().string() + "' --min-examples 1");
    EXPECT_NE(check.output.find("format:     sharegpt, detected"), std::string::npos) << check.output;
  }
}

}  // namespace
}  // namespace mlxft
