// Tool-call evaluation: does the model call the right tools, with the right arguments, turn by turn?
//
// Contract:
// - tool_turns(conversation, format) lists one turn per assistant message (raw-text conversations
//   have none; an assistant message right after another is skipped, as no prompt ends before it):
//   prompt = format.generation_prompt(the messages before it); expected = its native tool calls,
//   or when it has none the seed's plain-text calls parsed from its content (chat/tool_call.h).
// - evaluate_tool_calls() generates greedily for each turn of the first max_examples examples
//   (0: all) with their Conversation (data/example.h), up to max_new_tokens, stopping at the
//   format's stop_ids(), parses the output with format.parse_tool_calls() and returns every outcome
//   (in turn order) and the metrics. Turns of similar prompt length are generated batch_size at a
//   time (generate_batch); with batch_size 1, one at a time in turn order, each prompt reusing the KV
//   cache of the prefix it shares with the one before (a PromptCache: the tool catalogue, the
//   conversation's earlier turns). progress, when set, is called after each batch with (done, total).
// - tool_metrics() is pure. Over call turns (the reference makes a call): name_accuracy (the first
//   call names the right tool), arguments_exact (the calls parsed, valid, equal in count, names and
//   JSON-equal arguments, in order). valid_call_rate: over turns where the model made a call, the
//   share that parsed as valid. no_call_accuracy: over turns whose reference makes no call, the
//   share where the model made none. arguments_match (eval/argument_match.h, BFCL-style): over
//   call turns, the share whose calls parsed valid and match the reference's in names and
//   arguments (any order within the turn, ignore_keys skipped, ints accepted for floats).
//   argument_accuracy: the share of expected (key, value) pairs, over all call turns, that the
//   model reproduced. stated_arguments_match and stated_argument_accuracy: the same over call
//   turns whose every expected value the conversation before the turn states, and over expected
//   pairs whose value it states (stated_in, eval/argument_match.h): what a model could copy, apart
//   from values a data generator made up. A rate over zero turns is 0 (the counts say so). Every turn is also counted
//   under its turn_mistake() (missed, unparsed, wrong tool, wrong arguments, unwanted call).
// - A conversation whose tools came from a catalogue (data.tools) is prompted with
//   ToolEvalOptions::catalogue when that is set (the whole catalogue, not a training subset), unless
//   keep_subsets: then with the subset it was given when loaded (DataOptions::tools_per_prompt: its
//   called tools plus others drawn at random, as in training; the right tools are always offered,
//   like BFCL's multiple-function category). The constraint still takes names from the catalogue.
// - constrain: every turn is generated under a TokenConstraint of the format's call_syntax() and
//   the catalogue (without one, calls are only kept well-formed JSON).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mlxft/chat/chat_format.h"
#include "mlxft/data/example.h"
#include "mlxft/eval/argument_match.h"
#include "mlxft/eval/tool_calls.h"
#include "mlxft/model/llama.h"
#include "mlxft/model/lora.h"

namespace mlxft {

struct ToolTurn {
  int64_t example_index = 0;  // Example::index
  size_t message_index = 0;   // the assistant message in the conversation
  std::vector<int32_t> prompt;
  bool expected_call = false;
  std::vector<ParsedCall> expected;
  std::string said;  // the conversation before the turn, lower-cased (stated arguments: argument_match.h)
};

struct ToolTurnOutcome {
  int64_t example_index = 0;
  size_t message_index = 0;
  std::vector<int32_t> prompt;
  bool expected_call = false;
  std::vector<ParsedCall> expected;
  std::string said;       // as in ToolTurn
  std::string generated;  // the model's text, control tokens kept
  ParsedCalls got;
  int generated_tokens = 0;
};

// What went wrong in one turn, first cause first: a call was due and the model answered in text
// (MissedCall), its call did not parse (UnparsedCall), named another tool first (WrongTool) or did not
// match the reference's calls and arguments (WrongArguments, arguments_match's definition); a reply
// was due and the model called (UnwantedCall).
enum class TurnMistake { None, MissedCall, UnparsedCall, WrongTool, WrongArguments, UnwantedCall };
const char* mistake_name(TurnMistake mistake);  // "none", "missed_call", ..., "unwanted_call"

struct ToolCallMetrics {
  int64_t turns = 0, call_turns = 0, no_call_turns = 0, model_call_turns = 0;
  int64_t name_correct = 0, exact = 0, valid_calls = 0, no_call_correct = 0;
  int64_t arguments_matched = 0, argument_pairs = 0, argument_pairs_matched = 0;
  double name_accuracy = 0.0, arguments_exact = 0.0, valid_call_rate = 0.0, no_call_accuracy = 0.0;
  double arguments_match = 0.0, argument_accuracy = 0.0;
  // The same two scores over what the conversation states (see the contract): call turns whose every
  // expected value is stated, and expected pairs whose value is stated.
  int64_t stated_call_turns = 0, stated_arguments_matched = 0, stated_pairs = 0, stated_pairs_matched = 0;
  double stated_arguments_match = 0.0, stated_argument_accuracy = 0.0;
  // Turns by their TurnMistake (every turn counted once; None: right).
  int64_t missed_calls = 0, unparsed_calls = 0, wrong_tools = 0, wrong_arguments = 0, unwanted_calls = 0;
};

struct ToolEvalOptions {
  int max_examples = 0;  // 0: every example
  int max_new_tokens = 256;
  int batch_size = 8;  // turns generated together (generate_batch); 1: in order, reusing shared prefixes
  const LoraAdapters* lora = nullptr;
  ArgumentScoring scoring;                       // keys never compared (evaluation.ignore_argument_keys)
  std::shared_ptr<const OrderedJson> catalogue;  // prompts of catalogue-offered conversations use it whole
  bool keep_subsets = false;  // ... unless this is set: then they keep their per-prompt subset
  bool constrain = false;  // calls constrained to the catalogue's names and schemas (eval/call_constraint.h)
  // When set, the constraint's names and schemas instead (a model prompted without a catalogue).
  std::shared_ptr<const OrderedJson> constraint_catalogue;
  std::function<void(size_t done, size_t total)> progress;
};

struct ToolEvalResult {
  ToolCallMetrics metrics;
  std::vector<ToolTurnOutcome> outcomes;  // in turn order
  double generate_seconds = 0.0;          // prompt + generation time of all turns
  int64_t generated_tokens = 0;
};

std::vector<ToolTurn> tool_turns(const Conversation& conversation, const ChatFormat& format,
                                 int64_t example_index = 0);

bool name_matches(const ToolTurnOutcome& o);  // a call turn whose first call names the right tool
bool exact_match(const ToolTurnOutcome& o);   // a call turn whose calls match exactly
TurnMistake turn_mistake(const ToolTurnOutcome& o, const ArgumentScoring& scoring = {});

ToolCallMetrics tool_metrics(const std::vector<ToolTurnOutcome>& outcomes,
                             const ArgumentScoring& scoring = {});

ToolEvalResult evaluate_tool_calls(const Model& model, const ChatFormat& format,
                                   const std::vector<Example>& examples, const ToolEvalOptions& options);

}  // namespace mlxft
