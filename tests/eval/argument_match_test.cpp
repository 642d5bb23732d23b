// Argument scoring (eval/argument_match.h) on hand-made calls whose outcome follows from the
// definitions: ignored keys, extra and missing keys, ints for floats, nested objects, arrays,
// several calls in any order, the per-pair counts behind argument_accuracy, and which values a
// conversation states (the stated scores).
#include "mlxft/eval/argument_match.h"

#include <gtest/gtest.h>

namespace mlxft {
namespace {

ParsedCall call(const std::string& name, const std::string& args) {
  return {name, OrderedJson::parse(args)};
}
OrderedJson j(const std::string& s) {
  return OrderedJson::parse(s);
}

const ArgumentScoring kStrict{};
const ArgumentScoring kNoContext{{"context"}};

TEST(ArgumentMatch, ValuesCompareAsJsonWithIntsAcceptedForFloats) {
  EXPECT_TRUE(json_values_match(j("2.0"), j("2")));
  EXPECT_TRUE(json_values_match(j("2"), j("2.0")));
  EXPECT_FALSE(json_values_match(j("2.5"), j("2")));
  EXPECT_TRUE(json_values_match(j("3"), j("3")));
  EXPECT_FALSE(json_values_match(j("-1"), j("18446744073709551615")));        // unsigned past int64 range
  EXPECT_FALSE(json_values_match(j("true"), j("1")));                         // a boolean is not a number
  EXPECT_FALSE(json_values_match(j("\"5\""), j("5")));                        // types must agree
  EXPECT_FALSE(json_values_match(j("\"Notes/a.md\""), j("\"notes/a.md\"")));  // strings exactly
  EXPECT_TRUE(json_values_match(j("null"), j("null")));
  EXPECT_FALSE(json_values_match(j("null"), j("\"\"")));
  // Nested objects key by key, in any key order, no extra key; arrays in order.
  EXPECT_TRUE(
      json_values_match(j(R"({"a": {"b": 1, "c": [1, 2]}})"), j(R"({"a": {"c": [1.0, 2], "b": 1}})")));
  EXPECT_FALSE(json_values_match(j(R"({"a": {"b": 1}})"), j(R"({"a": {"b": 1, "x": 0}})")));
  EXPECT_FALSE(json_values_match(j(R"({"a": {"b": 1}})"), j(R"({"a": {}})")));
  EXPECT_FALSE(json_values_match(j("[1, 2]"), j("[2, 1]")));
  EXPECT_FALSE(json_values_match(j("[1, 2]"), j("[1, 2, 3]")));
}

TEST(ArgumentMatch, ArgumentsNeedEveryExpectedKeyAndNoOther) {
  const OrderedJson want = j(R"({"context": {"id": "s1"}, "path": "a.md", "limit": 5})");
  EXPECT_TRUE(
      arguments_match(want, j(R"({"limit": 5.0, "path": "a.md", "context": {"id": "s1"}})"), kStrict));
  // The context differs: wrong unless ignored; ignored keys may also be missing or extra.
  const OrderedJson other_context = j(R"({"context": {"id": "s2"}, "path": "a.md", "limit": 5})");
  EXPECT_FALSE(arguments_match(want, other_context, kStrict));
  EXPECT_TRUE(arguments_match(want, other_context, kNoContext));
  EXPECT_TRUE(arguments_match(want, j(R"({"path": "a.md", "limit": 5})"), kNoContext));
  EXPECT_TRUE(arguments_match(j(R"({"path": "a.md"})"), j(R"({"path": "a.md", "context": 1})"), kNoContext));
  // A missing and an extra argument each fail.
  EXPECT_FALSE(arguments_match(want, j(R"({"context": {"id": "s1"}, "path": "a.md"})"), kStrict));
  EXPECT_FALSE(
      arguments_match(want, j(R"({"context": {"id": "s1"}, "path": "a.md", "limit": 5, "x": 1})"), kStrict));
  EXPECT_FALSE(arguments_match(want, j("[1]"), kStrict));
}

TEST(ArgumentMatch, CallsPairInAnyOrderWithEqualNames) {
  const std::vector<ParsedCall> want = {call("read", R"({"path": "a"})"), call("list", R"({"dir": "b"})")};
  EXPECT_TRUE(
      calls_match(want, {call("list", R"({"dir": "b"})"), call("read", R"({"path": "a"})")}, kStrict));
  EXPECT_FALSE(calls_match(want, {call("read", R"({"path": "a"})")}, kStrict));  // one call missing
  EXPECT_FALSE(
      calls_match(want, {call("read", R"({"path": "a"})"), call("list", R"({"dir": "c"})")}, kStrict));
  EXPECT_FALSE(
      calls_match(want, {call("read", R"({"path": "a"})"), call("lists", R"({"dir": "b"})")}, kStrict));
  // Two calls of one tool: each expected call needs its own model call.
  const std::vector<ParsedCall> twice = {call("read", R"({"path": "a"})"), call("read", R"({"path": "b"})")};
  EXPECT_TRUE(
      calls_match(twice, {call("read", R"({"path": "b"})"), call("read", R"({"path": "a"})")}, kStrict));
  EXPECT_FALSE(
      calls_match(twice, {call("read", R"({"path": "a"})"), call("read", R"({"path": "a"})")}, kStrict));
  EXPECT_FALSE(calls_match({}, {}, kStrict));  // no expected call: not a call turn
}

TEST(ArgumentMatch, PairsCountWhatTheModelReproduced) {
  const std::vector<ParsedCall> want = {call("read", R"({"context": {}, "path": "a", "limit": 5})"),
                                        call("list", R"({"dir": "b", "deep": true})")};
  EXPECT_EQ(argument_pairs(want, kStrict), 5);
  EXPECT_EQ(argument_pairs(want, kNoContext), 4);
  // read: path right, limit wrong; list: both right; an extra argument costs no pair.
  const std::vector<ParsedCall> got = {call("list", R"({"deep": true, "dir": "b", "x": 0})"),
                                       call("read", R"({"path": "a", "limit": 6})")};
  EXPECT_EQ(matched_argument_pairs(want, got, kNoContext), 3);
  // A call of another tool reproduces nothing; no call reproduces nothing.
  EXPECT_EQ(matched_argument_pairs(want, {call("write", R"({"path": "a", "limit": 5})")}, kNoContext), 0);
  EXPECT_EQ(matched_argument_pairs(want, {}, kNoContext), 0);
  // Two model calls of one tool: the expected call takes the better one, each used once.
  const std::vector<ParsedCall> one = {call("read", R"({"path": "a", "limit": 5})")};
  EXPECT_EQ(
      matched_argument_pairs(
          one, {call("read", R"({"path": "z"})"), call("read", R"({"path": "a", "limit": 5})")}, kStrict),
      2);
}

TEST(ArgumentMatch, AValueIsStatedWhenEveryStringAndNumberInItOccursInTheText) {
  const std::string said = lower_ascii("Move 'Q4 Goals' to Archive, keep 15 of them.\nResult: {\"id\": 1731}");
  EXPECT_EQ(said.substr(0, 14), "move 'q4 goals");
  EXPECT_TRUE(stated_in(j(R"("Q4 goals")"), said));  // case ignored
  EXPECT_TRUE(stated_in(j(R"("")"), said));
  EXPECT_FALSE(stated_in(j(R"("Archive/Q4 Goals")"), said));  // a made-up folder
  EXPECT_TRUE(stated_in(j("15"), said));
  EXPECT_TRUE(stated_in(j("1731"), said));
  EXPECT_FALSE(stated_in(j("173"), said));  // inside a longer number
  EXPECT_FALSE(stated_in(j("10"), said));
  EXPECT_TRUE(stated_in(j("true"), said));  // a choice, not a string to copy
  EXPECT_TRUE(stated_in(j("null"), said));
  EXPECT_TRUE(stated_in(j(R"({"dest": "archive", "n": [15, 1731]})"), said));  // keys are not checked
  EXPECT_FALSE(stated_in(j(R"({"dest": "archive", "n": [15, 16]})"), said));
  const std::vector<ParsedCall> want = {call("move", R"({"context": {"s": "x"}, "from": "Q4 Goals", "to": "Old"})")};
  EXPECT_FALSE(stated_turn(want, said, kNoContext));  // "Old" is not said
  EXPECT_EQ(argument_pairs(want, kNoContext, &said), 1);
  EXPECT_EQ(matched_argument_pairs(want, {call("move", R"({"from": "q4 goals", "to": "Old"})")}, kNoContext, &said),
            0);  // copied with the wrong case: values still compare exactly
  EXPECT_EQ(matched_argument_pairs(want, {call("move", R"({"from": "Q4 Goals", "to": "X"})")}, kNoContext, &said), 1);
  const std::vector<ParsedCall> copied = {call("move", R"({"context": {"s": "x"}, "from": "Q4 Goals"})")};
  EXPECT_TRUE(stated_turn(copied, said, kNoContext));   // the ignored context is not checked
  EXPECT_FALSE(stated_turn(copied, said, kStrict));
}

}  // namespace
}  // namespace mlxft
