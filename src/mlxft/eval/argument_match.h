// Argument-level scoring of tool calls, in the style of the Berkeley Function Calling Leaderboard's
// AST check.
//
// Contract:
// - ArgumentScoring::ignore_keys are top-level argument keys never compared, on either side
//   (volatile values such as the seed data's `context` object of session ids and timestamps).
// - json_values_match(expected, got): equal JSON values, where two numbers match when they are
//   equal in value (an integer is accepted for a float: 2 matches 2.0), objects match key by key
//   with no key missing and no extra key, arrays element by element in order, strings and
//   booleans exactly (a boolean never matches a number), null only null.
// - arguments_match(expected, got, scoring): both are argument objects; every expected argument
//   is present in got with a matching value and got has no other argument (ignored keys skipped).
// - calls_match(expected, got, scoring): a non-empty expected list, the same number of calls, and
//   a one-to-one pairing in which each pair has the same name and matching arguments. Several
//   calls in one turn are paired in any order (BFCL's rule for parallel calls), so [a, b] is
//   matched by [b, a].
// - argument_pairs(expected, scoring): the expected (key, value) pairs of a turn, over all its
//   calls, ignored keys excluded. matched_argument_pairs(expected, got, scoring): how many of them
//   the model reproduced: each expected call is paired with a not yet paired model call of the
//   same name (the one that reproduces most of its pairs, the first on a tie) and its pairs count
//   where got has the key with a matching value. 0 when the model made no call.
// - Stated arguments (what a model could know): stated_in(value, said) is true when the conversation
//   text `said` (already lower-cased, see lower_ascii) states the value: every string in it (object
//   keys aside) occurs in said, ignoring ASCII case (the empty string always does), and every number's
//   JSON text occurs in said with no digit right before or after it; booleans and null count as stated
//   (a choice the request's wording implies, never a string to copy). argument_pairs and
//   matched_argument_pairs take an optional `said`: then only pairs whose expected value is stated
//   count. stated_turn(expected, said, scoring): every expected pair of the turn is stated.
// - Pure functions; never throw.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "mlxft/eval/tool_calls.h"
#include "mlxft/util/json_text.h"

namespace mlxft {

struct ArgumentScoring {
  std::set<std::string> ignore_keys;
};

bool json_values_match(const OrderedJson& expected, const OrderedJson& got);
bool arguments_match(const OrderedJson& expected, const OrderedJson& got, const ArgumentScoring& scoring);
bool calls_match(const std::vector<ParsedCall>& expected, const std::vector<ParsedCall>& got,
                 const ArgumentScoring& scoring);
int64_t argument_pairs(const std::vector<ParsedCall>& expected, const ArgumentScoring& scoring,
                       const std::string* said = nullptr);
int64_t matched_argument_pairs(const std::vector<ParsedCall>& expected, const std::vector<ParsedCall>& got,
                               const ArgumentScoring& scoring, const std::string* said = nullptr);

std::string lower_ascii(std::string text);
bool stated_in(const OrderedJson& value, const std::string& said);
bool stated_turn(const std::vector<ParsedCall>& expected, const std::string& said, const ArgumentScoring& scoring);

}  // namespace mlxft
