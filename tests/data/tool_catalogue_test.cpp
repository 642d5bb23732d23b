// Tool catalogues (data/tool_catalogue.h): schemas inferred from calls (types, required, nested
// objects, arrays, mixed types), seed text calls read too, files refused with the file named, and
// the per-prompt subset (called tools always kept, deterministic, catalogue order).
#include "mlxft/data/tool_catalogue.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "mlxft/chat/chatml.h"
#include "mlxft/chat/mistral_v3.h"
#include "mlxft/data/dataset.h"
#include "mlxft/tokenizer/sentencepiece_tokenizer.h"
#include "mlxft/util/error.h"
#include "support/test_support.h"
#include "tokenizer/bpe_test_support.h"

namespace mlxft {
namespace {

using test::msg;

Message calls(std::vector<std::pair<std::string, std::string>> list) {
  Message m = msg(Role::Assistant, "");
  int i = 0;
  for (auto& [name, args] : list)
    m.tool_calls.push_back(
        {"call" + std::string(4, static_cast<char>('a' + i++)), name, OrderedJson::parse(args)});
  return m;
}

Conversation conv(std::vector<Message> ms) {
  Conversation c;
  c.messages = std::move(ms);
  return c;
}

TEST(ToolCatalogue, InfersTypesRequiredAndNestedObjects) {
  const std::vector<Conversation> data = {
      conv({msg(Role::User, "q"),
            calls({{"read", R"({"path": "a", "limit": 5, "context": {"id": "s1", "tags": ["x"]}})"}})}),
      conv({msg(Role::User, "q"),
            calls({{"read", R"({"path": "b", "limit": 2.5, "context": {"id": "s2"}})"}, {"list", R"({})"}})}),
      conv({msg(Role::User, "q"),
            calls({{"read", R"({"path": null, "context": {"id": "s3", "tags": []}})"}})}),
  };
  const OrderedJson cat = infer_tool_catalogue(data);
  ASSERT_EQ(cat.size(), 2u);
  EXPECT_EQ(cat[0]["type"], "function");
  EXPECT_EQ(cat[0]["function"]["name"], "read");
  EXPECT_EQ(cat[0]["function"]["description"], "");
  const OrderedJson want = OrderedJson::parse(R"({
    "type": "object",
    "properties": {
      "path": {"type": ["string", "null"]},
      "limit": {"type": "number"},
      "context": {"type": "object",
                  "properties": {"id": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}}},
                  "required": ["id"]}},
    "required": ["path", "context"]})");
  EXPECT_EQ(cat[0]["function"]["parameters"], want);
  // A tool only ever called without arguments still has an (empty) object schema.
  EXPECT_EQ(cat[1]["function"]["name"], "list");
  EXPECT_EQ(cat[1]["function"]["parameters"], OrderedJson::parse(R"({"type": "object", "properties": {}})"));
}

TEST(ToolCatalogue, IntegersStayIntegersAndSeedTextCallsCount) {
  Message text =
      msg(Role::Assistant, "tool_call: search\narguments: {\"q\": \"x\", \"n\": 3}\n\nResult: {}\n\nok");
  const OrderedJson cat = infer_tool_catalogue({conv({msg(Role::User, "q"), text})});
  ASSERT_EQ(cat.size(), 1u);
  EXPECT_EQ(cat[0]["function"]["parameters"]["properties"]["n"],
            OrderedJson::parse(R"({"type": "integer"})"));
  EXPECT_EQ(cat[0]["function"]["parameters"]["required"], OrderedJson::parse(R"(["q", "n"])"));
  EXPECT_EQ(called_tool_names(conv({msg(Role::User, "q"), text})), std::vector<std::string>{"search"});
}

OrderedJson numbered_catalogue(int n) {
  OrderedJson cat = OrderedJson::array();
  for (int i = 0; i < n; ++i)
    cat.push_back({{"type", "function"}, {"function", {{"name", "t" + std::to_string(i)}}}});
  return cat;
}

std::vector<std::string> names_of(const OrderedJson& tools) {
  std::vector<std::string> out;
  for (const auto& t : tools) out.push_back(t["function"]["name"]);
  return out;
}

TEST(ToolCatalogue, PromptSubsetKeepsTheCalledToolsInCatalogueOrder) {
  const OrderedJson cat = numbered_catalogue(10);
  const Conversation c = conv({msg(Role::User, "q"), calls({{"t7", "{}"}, {"t2", "{}"}})});
  EXPECT_EQ(tools_for_prompt(cat, c, 0, 1), cat);
  EXPECT_EQ(tools_for_prompt(cat, c, 10, 1), cat);
  const auto a = names_of(tools_for_prompt(cat, c, 4, 1));
  ASSERT_EQ(a.size(), 4u);
  EXPECT_NE(std::find(a.begin(), a.end(), "t7"), a.end());
  EXPECT_NE(std::find(a.begin(), a.end(), "t2"), a.end());
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));         // t0..t9 sort as the catalogue's order
  EXPECT_EQ(names_of(tools_for_prompt(cat, c, 4, 1)), a);  // deterministic
  bool other_seed_differs = false;
  for (uint64_t s = 2; s < 12; ++s) other_seed_differs |= names_of(tools_for_prompt(cat, c, 4, s)) != a;
  EXPECT_TRUE(other_seed_differs);
  // More called tools than per_prompt: all of them, nothing else.
  EXPECT_EQ(names_of(tools_for_prompt(cat, c, 1, 1)), (std::vector<std::string>{"t2", "t7"}));
}

TEST(ToolCatalogue, BadFilesNameTheFileAndEntry) {
  const auto dir = std::filesystem::temp_directory_path() / ("mlxft_catalogue_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
    return dir / name;
  };
  const auto expect_error = [](const std::filesystem::path& p, const std::string& part) {
    try {
      load_tool_catalogue(p);
      ADD_FAILURE() << "no error for " << p;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(p.filename().string()), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  expect_error(dir / "missing.json", "not a readable file");
  expect_error(write("bad.json", "[{"), "not valid JSON");
  expect_error(write("obj.json", "{}"), "non-empty JSON list");
  expect_error(write("noname.json", R"([{"type": "function", "function": {"description": ""}}])"), "entry 1");
  expect_error(write("twice.json", R"([{"function": {"name": "a"}}, {"function": {"name": "a"}}])"),
               "appears twice");
  const auto good = write("good.json", numbered_catalogue(3).dump());
  EXPECT_EQ(load_tool_catalogue(good), numbered_catalogue(3));
  std::filesystem::remove_all(dir);
}

DataOptions small_file() {
  DataOptions o;
  o.min_examples = 1;
  return o;
}

// A record offered the catalogue renders to exactly the ids of the same record carrying that list as
// its own "tools" (which the chat-format goldens check against mistral-common and the ChatML
// reference), in both formats; the catalogue adds prompt tokens only, never trained ones.
void expect_catalogue_renders_as_inline_tools(const ChatFormat& chat) {
  const std::string record =
      R"({"messages": [{"role": "user", "content": "Read a.md"}, {"role": "assistant", "tool_calls": [)"
      R"({"id": "abcdefghi", "type": "function", "function": {"name": "read", "arguments": {"path": "a.md"}}}]}, )"
      R"({"role": "tool", "tool_call_id": "abcdefghi", "content": "ok"}, )"
      R"({"role": "assistant", "content": "Done."}]})";
  const auto plain = load_dataset_from_text(record + "\n", "plain.jsonl", chat, small_file());
  ASSERT_EQ(plain.examples.size(), 1u)
      << (plain.report.skipped.empty() ? "" : plain.report.skipped[0].reason);
  DataOptions with;
  with.min_examples = 1;
  std::vector<Conversation> convs = {*plain.examples.at(0).conversation};
  with.tool_catalogue = std::make_shared<const OrderedJson>(infer_tool_catalogue(convs));
  const auto offered = load_dataset_from_text(record + "\n", "offered.jsonl", chat, with);
  std::string inline_record = record;
  inline_record.insert(inline_record.size() - 1, ", \"tools\": " + with.tool_catalogue->dump());
  const auto carried = load_dataset_from_text(inline_record + "\n", "inline.jsonl", chat, small_file());
  const Example& a = offered.examples.at(0);
  const Example& b = carried.examples.at(0);
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_EQ(a.mask, b.mask);
  EXPECT_TRUE(a.conversation->tools_from_catalogue);
  EXPECT_FALSE(b.conversation->tools_from_catalogue);
  EXPECT_GT(a.ids.size(), plain.examples.at(0).ids.size());
  EXPECT_EQ(a.trained_tokens(), plain.examples.at(0).trained_tokens());
}

TEST(ToolCatalogue, OfferedCatalogueRendersAsInlineToolsChatMl) {
  MLXFT_REQUIRE_FILE(test::smollm2_gguf(), "SmolLM2 GGUF");
  expect_catalogue_renders_as_inline_tools(ChatMlFormat(*test::smollm2_tokenizer()));
}

TEST(ToolCatalogue, OfferedCatalogueRendersAsInlineToolsMistralV3) {
  MLXFT_REQUIRE_TOKENIZER();
  const auto tok = SentencePieceTokenizer::load(test::v3_tokenizer());
  expect_catalogue_renders_as_inline_tools(MistralV3Format(tok));
}

}  // namespace
}  // namespace mlxft
