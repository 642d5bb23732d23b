// Constrained tool calls (eval/call_constraint.h): the grammar on hand-written texts (names from
// the catalogue, keys from the schema, required keys, integer vs number, nested objects, Mistral's
// list, a catalogue-free run), and a decoder whose head always prefers tokens that would break the
// call: what comes out still parses as a valid call of a catalogue tool that fits its schema.
// finish() completes a call from every prefix, and a budget makes a call that would run on close.
#include "mlxft/eval/call_constraint.h"

#include <gtest/gtest.h>

#include <random>

#include "mlxft/chat/chatml.h"
#include "mlxft/eval/tool_calls.h"
#include "tokenizer/bpe_test_support.h"

namespace mlxft {
namespace {

const CallSyntax kHermes{"<tool_call>", false, "</tool_call>"};
const CallSyntax kMistral{"[TOOL_CALLS]", true, ""};

std::shared_ptr<const OrderedJson> catalogue() {
  return std::make_shared<const OrderedJson>(OrderedJson::parse(R"([
    {"type": "function", "function": {"name": "read", "parameters": {"type": "object",
      "properties": {"path": {"type": "string"}, "limit": {"type": "integer"},
                     "opts": {"type": "object", "properties": {"deep": {"type": "boolean"},
                              "tags": {"type": "array", "items": {"type": "string"}}}, "required": ["deep"]}},
      "required": ["path"]}}},
    {"type": "function", "function": {"name": "reader", "parameters": {"type": "object",
      "properties": {"score": {"type": "number"}}}}}])"));
}

// Whether the grammar takes `text` whole.
bool takes(const CallSyntax& syntax, const std::string& text,
           std::shared_ptr<const OrderedJson> cat = catalogue()) {
  CallGrammar g(syntax, std::move(cat));
  return g.feed(text);
}

TEST(CallGrammar, TakesWellFormedCallsOfTheCatalogue) {
  const std::string call =
      R"({"name": "read", "arguments": {"path": "a.md", "limit": 5, "opts": {"deep": true, "tags": ["x", "y"]}}})";
  CallGrammar g(kHermes, catalogue());
  EXPECT_TRUE(g.feed("Sure.\n"));
  EXPECT_FALSE(g.in_call());
  EXPECT_TRUE(g.feed("<tool_call>\n"));
  EXPECT_TRUE(g.in_call());
  EXPECT_TRUE(g.feed(call));
  EXPECT_TRUE(g.in_call());  // the closer is still due
  EXPECT_TRUE(g.feed("\n</tool_call>"));
  EXPECT_FALSE(g.in_call());
  EXPECT_TRUE(
      g.feed("\n<tool_call>\n{\"name\": \"reader\", \"arguments\": {\"score\": -2.5e3}}\n</tool_call>"));
  EXPECT_FALSE(g.in_call());
  // Mistral: one list of calls, then nothing but the end.
  CallGrammar m(kMistral, catalogue());
  EXPECT_TRUE(m.feed("[TOOL_CALLS] [" + call + ", {\"name\": \"reader\", \"arguments\": {}}]"));
  EXPECT_TRUE(m.done());
  EXPECT_FALSE(m.in_call());
  EXPECT_FALSE(m.feed("x"));
}

TEST(CallGrammar, RefusesWhatBreaksTheCallOrTheSchema) {
  const std::string open = "<tool_call>\n";
  EXPECT_TRUE(takes(kHermes, open + R"({"name": "rea)"));       // a prefix of a name
  EXPECT_FALSE(takes(kHermes, open + R"({"name": "reed)"));     // not a catalogue name
  EXPECT_FALSE(takes(kHermes, open + R"({"name": "rea")"));     // closes before a whole name
  EXPECT_FALSE(takes(kHermes, open + R"({"arguments": {}})"));  // name first
  EXPECT_FALSE(takes(kHermes, open + R"({"name": 3)"));         // the name is a string
  const std::string read = open + R"({"name": "read", "arguments": {)";
  EXPECT_FALSE(takes(kHermes, read + R"("x": 1)"));                     // not a property
  EXPECT_FALSE(takes(kHermes, read + R"("path": "a", "path")"));        // twice
  EXPECT_FALSE(takes(kHermes, read + R"("limit": 5})"));                // required path missing
  EXPECT_FALSE(takes(kHermes, read + R"("path": "a", "limit": 2.5)"));  // integer: no fraction
  EXPECT_FALSE(takes(kHermes, read + R"("path": 7)"));                  // string wanted
  EXPECT_FALSE(takes(kHermes, read + R"("path": "a", "opts": {}})"));   // nested required deep
  EXPECT_FALSE(takes(kHermes, read + R"("path": "a", "opts": {"deep": true, "tags": [1)"));  // items: strings
  EXPECT_FALSE(takes(kHermes, read + "\"path\": \"a\nb\""));  // raw control character
  EXPECT_TRUE(takes(kHermes, read + R"("path": "a\"\u00e9", "limit": -0})"));
  EXPECT_FALSE(takes(kHermes, read + R"("path": "a"}, "extra": 1)"));   // nothing after arguments
  EXPECT_FALSE(takes(kHermes, read + R"("path": "a"}} </tool_cal!)"));  // the closer exactly
  EXPECT_FALSE(takes(kMistral, "[TOOL_CALLS] {"));                      // Mistral's calls are a list
  EXPECT_FALSE(takes(kHermes, read + R"("path": "a", "opts": {"deep": true, "tags": [],)"));  // no key left
  EXPECT_FALSE(takes(kHermes, open + std::string(9, '\n')));         // whitespace runs are bounded
  EXPECT_FALSE(takes(kHermes, read + R"("path": "a</tool_call>)"));  // a string never spells the closer
}

// A string value that repeats one piece (4 copies, 48 characters or more) may only close; shorter
// repeats, and repeats in keys' names, are left alone.
TEST(CallGrammar, ALoopingStringValueMayOnlyClose) {
  const std::string open = "<tool_call>\n{\"name\": \"read\", \"arguments\": {\"path\": \"";
  std::string loop;
  for (int i = 0; i < 4; ++i) loop += "No changes. ";  // 48 characters
  CallGrammar g(kHermes, catalogue());
  ASSERT_TRUE(g.feed(open + loop));
  CallGrammar more = g;
  EXPECT_FALSE(more.feed('N'));
  CallGrammar escaped = g;
  EXPECT_FALSE(escaped.feed('\\'));
  EXPECT_TRUE(g.feed("\"}}\n</tool_call>"));
  EXPECT_FALSE(g.in_call());
  // Newlines as escapes loop the same way: 24 copies of the two characters \n.
  std::string newlines;
  for (int i = 0; i < 24; ++i) newlines += "\\n";
  CallGrammar n(kHermes, catalogue());
  ASSERT_TRUE(n.feed(open + "a" + newlines));
  EXPECT_FALSE(n.feed('b'));
  // Three copies, or four of a short piece under 48 characters, may go on; so may varied text.
  EXPECT_TRUE(takes(kHermes, open + "No changes. No changes. No changes. More"));
  EXPECT_TRUE(takes(kHermes, open + "|---|---|---|---|---| a"));
  EXPECT_TRUE(takes(kHermes, open + "# Title\\n\\nSome text that goes on and on without repeating itself at all."));
}

TEST(CallGrammar, WithoutACatalogueOnlyJsonIsChecked) {
  const std::string open = "<tool_call>";
  EXPECT_TRUE(takes(
      kHermes, open + R"({"name": "anything", "arguments": {"k": [1, {"z": null}], "b": false}}</tool_call>)",
      nullptr));
  EXPECT_FALSE(takes(kHermes,
                     open + R"({"name": "a", "arguments": {"k": tru)"
                            "x",
                     nullptr));
  EXPECT_FALSE(takes(kHermes, open + R"({"name": "a", "arguments": [)", nullptr));  // arguments: an object
  EXPECT_FALSE(takes(kHermes, open + R"({"name": "a", "arguments": {"k": 01)", nullptr));  // JSON numbers
}

// From every prefix of well-formed calls (inside strings, escapes, numbers, literals, keys, nested
// objects and arrays, before required keys), finish() is text the grammar takes and that ends the
// call, and the whole text parses as one call of a catalogue tool with its required arguments.
TEST(CallGrammar, FinishCompletesACallFromEveryPrefix) {
  const std::vector<std::string> calls = {
      R"({"name": "read", "arguments": {"limit": -12, "opts": {"tags": ["a\u00e9\n", "b"], "deep": true}, "path": "x"}})",
      R"({"name": "reader", "arguments": {"score": 2.5e-3}})",
      R"({"name": "read", "arguments": {"opts": {"deep": false}, "path": "a/b.md"}})"};
  for (const auto& call : calls) {
    for (size_t cut = 0; cut < call.size(); ++cut) {
      CallGrammar g(kHermes, catalogue());
      ASSERT_TRUE(g.feed("<tool_call>\n" + call.substr(0, cut))) << cut;
      const std::string rest = g.finish();
      ASSERT_FALSE(rest.empty()) << call.substr(0, cut);
      CallGrammar fed = g;
      ASSERT_TRUE(fed.feed(rest)) << call.substr(0, cut) << "|" << rest;
      EXPECT_FALSE(fed.in_call()) << call.substr(0, cut) << "|" << rest;
      const std::string body = call.substr(0, cut) + rest;
      ASSERT_GE(body.size(), std::string("</tool_call>").size());
      const auto parsed = OrderedJson::parse(body.substr(0, body.size() - std::string("</tool_call>").size()));
      EXPECT_TRUE(parsed["name"] == "read" || parsed["name"] == "reader") << body;
      if (parsed["name"] == "read") {
        EXPECT_TRUE(parsed["arguments"].contains("path")) << body;  // required
        if (parsed["arguments"].contains("opts")) {
          EXPECT_TRUE(parsed["arguments"]["opts"].contains("deep")) << body;
        }
      }
    }
  }
  CallGrammar outside(kHermes, catalogue());
  EXPECT_EQ(outside.finish(), "");
  CallGrammar m(kMistral, catalogue());
  ASSERT_TRUE(m.feed(R"([TOOL_CALLS] [{"name": "rea)"));
  EXPECT_EQ(m.finish(), R"(d","arguments":{"path":""}}])");
}

// A head that always ranks tokens which would break the call first: the constrained choice must
// still produce a call of a catalogue tool that fits its schema, and the stop token only after it.
TEST(TokenConstraint, AHostileHeadStillGivesAValidCall) {
  const auto* tok = test::smollm2_tokenizer();
  MLXFT_REQUIRE_FILE(test::smollm2_gguf(), "SmolLM2 GGUF");
  const ChatMlFormat format(*tok);
  const auto cat = catalogue();
  const int32_t eos = tok->eos_id();
  auto constraint = call_constraint_factory(format, cat, eos)();
  const size_t V = static_cast<size_t>(tok->vocab_size());
  std::vector<int32_t> hostile;  // stop, garbage, wrong names, structure at the wrong time
  for (const char* s : {"reed", "}", "\"", "]", "{", "xyz", ".", "7", "null", ",", "</tool_call>", "\n"})
    for (int32_t id : tok->encode(s)) hostile.push_back(id);
  const std::vector<int32_t> stops = format.stop_ids();
  for (int32_t id : stops) hostile.push_back(id);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> noise(0.0f, 1.0f);
  std::vector<int32_t> out = tok->encode("<tool_call>\n");
  for (int32_t id : out) constraint->accept(id);
  bool stopped = false;
  for (int step = 0; step < 400 && !stopped; ++step) {
    std::vector<float> logits(V);
    for (auto& l : logits) l = noise(rng);
    const size_t n = hostile.size();  // the hostile order rotates, so each of them leads in turn
    for (size_t i = 0; i < n; ++i)
      logits[static_cast<size_t>(hostile[(i + static_cast<size_t>(step)) % n])] =
          100.0f - static_cast<float>(i);
    const int32_t pick =
        constrained_choice(*constraint, logits.data(), V, hostile[static_cast<size_t>(step) % n]);
    ASSERT_TRUE(constraint->allows(pick)) << text_keeping_controls(*tok, out) << "|" << pick;
    constraint->accept(pick);
    stopped = std::find(stops.begin(), stops.end(), pick) != stops.end();
    if (!stopped) out.push_back(pick);
  }
  ASSERT_TRUE(stopped) << text_keeping_controls(*tok, out);
  const std::string text = text_keeping_controls(*tok, out);
  const ParsedCalls p = format.parse_tool_calls(text);
  ASSERT_TRUE(p.valid) << text;
  ASSERT_EQ(p.calls.size(), 1u) << text;
  EXPECT_TRUE(p.calls[0].name == "read" || p.calls[0].name == "reader") << text;
  if (p.calls[0].name == "read") {
    EXPECT_TRUE(p.calls[0].arguments.contains("path")) << text;
    for (const auto& [k, v] : p.calls[0].arguments.items())
      EXPECT_TRUE(k == "path" || k == "limit" || k == "opts") << text;
  }
}

// A head that wants an endless string value: with a budget, the call still closes and parses within
// it (the value cut short); without one it would run to the limit unparsed.
TEST(TokenConstraint, ABudgetClosesACallThatWouldRunOn) {
  const auto* tok = test::smollm2_tokenizer();
  MLXFT_REQUIRE_FILE(test::smollm2_gguf(), "SmolLM2 GGUF");
  const ChatMlFormat format(*tok);
  const size_t V = static_cast<size_t>(tok->vocab_size());
  const std::vector<int32_t> word = tok->encode(" lorem ipsum dolor sit amet consectetur");
  for (const bool budget : {false, true}) {
    auto constraint = call_constraint_factory(format, catalogue(), tok->eos_id())();
    const int max_tokens = 120;
    if (budget) constraint->set_budget(max_tokens);
    std::vector<int32_t> out = tok->encode(R"(<tool_call>
{"name": "read", "arguments": {"opts": {"tags": ["a", ")");
    for (int32_t id : out) constraint->accept(id);
    for (int step = static_cast<int>(out.size()); step < max_tokens; ++step) {
      std::vector<float> logits(V, 0.0f);
      const int32_t want = word[static_cast<size_t>(step) % word.size()];  // never a quote: no loop either
      logits[static_cast<size_t>(want)] = 10.0f;
      const int32_t pick = constrained_choice(*constraint, logits.data(), V, want);
      constraint->accept(pick);
      if (pick == tok->eos_id()) break;
      out.push_back(pick);
    }
    const std::string text = text_keeping_controls(*tok, out);
    const ParsedCalls p = format.parse_tool_calls(text);
    if (!budget) {
      EXPECT_FALSE(p.valid) << text;
      continue;
    }
    EXPECT_LE(out.size(), static_cast<size_t>(max_tokens));
    ASSERT_TRUE(p.valid) << text;
    ASSERT_EQ(p.calls.size(), 1u);
    EXPECT_EQ(p.calls[0].arguments["path"], "") << text;  // the required key, added with the smallest value
    EXPECT_EQ(p.calls[0].arguments["opts"]["deep"], false) << text;
    EXPECT_NE(p.calls[0].arguments["opts"]["tags"][1].get<std::string>().find("lorem"), std::string::npos) << text;
  }
}

}  // namespace
}  // namespace mlxft
