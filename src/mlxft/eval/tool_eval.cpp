#include "mlxft/eval/tool_eval.h"

#include <algorithm>
#include <chrono>

#include "mlxft/eval/generate.h"
#include "mlxft/model/decode_step.h"

namespace mlxft {

namespace {

ParsedCalls expected_calls(const Message& m) {
  if (m.tool_calls.empty()) return parse_plain_tool_calls(m.content);  // the seed's plain-text calls
  ParsedCalls p{true, true, {}};
  for (const auto& c : m.tool_calls) p.calls.push_back({c.name, c.arguments});
  return p;
}

// What the messages say, lower-cased: their text, the calls' names and arguments, tool results.
std::string said_text(const std::vector<Message>& messages) {
  std::string out;
  for (const auto& m : messages) {
    out += m.content;
    out += '\n';
    for (const auto& c : m.tool_calls) out += c.name + " " + c.arguments.dump() + "\n";
  }
  return lower_ascii(std::move(out));
}

double share(int64_t part, int64_t whole) {
  return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
}

// One turn at a time in turn order, each prompt reusing the KV cache of the longest prefix it shares
// with the one before (the catalogue, the conversation's earlier turns).
std::vector<std::vector<int32_t>> generate_in_order(const Model& model, const std::vector<ToolTurn>& turns,
                                                    const GenerateOptions& go,
                                                    const std::function<void(size_t, size_t)>& progress) {
  std::vector<std::vector<int32_t>> generated;
  PromptCache cache;
  for (const ToolTurn& t : turns) {
    generated.push_back(generate(model, t.prompt, go, {}, nullptr, &cache));
    if (progress) progress(generated.size(), turns.size());
  }
  return generated;
}

// Batches of consecutive turns, each prompt fed alone from the cache of the one before, decoded together
// (generate_each: the tokens of generate_in_order).
std::vector<std::vector<int32_t>> generate_each_batched(const Model& model, const std::vector<ToolTurn>& turns,
                                                        const GenerateOptions& go, const ToolEvalOptions& options) {
  std::vector<std::vector<int32_t>> generated;
  PromptCache cache;
  const size_t batch = static_cast<size_t>(options.batch_size);
  for (size_t first = 0; first < turns.size(); first += batch) {
    std::vector<std::vector<int32_t>> prompts;
    for (size_t j = first; j < std::min(turns.size(), first + batch); ++j) prompts.push_back(turns[j].prompt);
    for (auto& ids : generate_each(model, prompts, go, &cache)) generated.push_back(std::move(ids));
    if (options.progress) options.progress(generated.size(), turns.size());
  }
  return generated;
}

// Batches of turns with similar prompt lengths (little padding); the results in turn order. Where the
// model has a graph-free decoding step (model/decode_step.h), generate_each_batched() instead: no padding,
// and each prompt computes only what it does not share with the one before.
std::vector<std::vector<int32_t>> generate_batched(const Model& model, const std::vector<ToolTurn>& turns,
                                                   const GenerateOptions& go,
                                                   const ToolEvalOptions& options) {
  if (DecodeStep::make(model, go.lora)) return generate_each_batched(model, turns, go, options);
  std::vector<size_t> order(turns.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return turns[a].prompt.size() < turns[b].prompt.size(); });
  std::vector<std::vector<int32_t>> generated(turns.size());
  const size_t batch = static_cast<size_t>(options.batch_size);
  for (size_t first = 0; first < order.size(); first += batch) {
    const size_t last = std::min(order.size(), first + batch);
    std::vector<std::vector<int32_t>> prompts;
    for (size_t j = first; j < last; ++j) prompts.push_back(turns[order[j]].prompt);
    auto ids = generate_batch(model, prompts, go);
    for (size_t j = first; j < last; ++j) generated[order[j]] = std::move(ids[j - first]);
    if (options.progress) options.progress(last, turns.size());
  }
  return generated;
}

}  // namespace

std::vector<ToolTurn> tool_turns(const Conversation& conversation, const ChatFormat& format,
                                 int64_t example_index) {
  std::vector<ToolTurn> turns;
  if (conversation.raw_text) return turns;
  const auto& ms = conversation.messages;
  for (size_t i = 0; i < ms.size(); ++i) {
    if (ms[i].role != Role::Assistant || (i > 0 && ms[i - 1].role == Role::Assistant)) continue;
    Conversation before = conversation;
    before.messages.assign(ms.begin(), ms.begin() + static_cast<std::ptrdiff_t>(i));
    ParsedCalls expected = expected_calls(ms[i]);
    turns.push_back({example_index, i, format.generation_prompt(before), expected.made_call,
                     std::move(expected.calls), said_text(before.messages)});
  }
  return turns;
}

bool name_matches(const ToolTurnOutcome& o) {
  return o.expected_call && same_first_name(o.expected, o.got.calls);
}

bool exact_match(const ToolTurnOutcome& o) {
  return o.expected_call && o.got.valid && same_calls(o.expected, o.got.calls);
}

const char* mistake_name(TurnMistake mistake) {
  switch (mistake) {
    case TurnMistake::None: return "none";
    case TurnMistake::MissedCall: return "missed_call";
    case TurnMistake::UnparsedCall: return "unparsed_call";
    case TurnMistake::WrongTool: return "wrong_tool";
    case TurnMistake::WrongArguments: return "wrong_arguments";
    case TurnMistake::UnwantedCall: return "unwanted_call";
  }
  return "none";
}

TurnMistake turn_mistake(const ToolTurnOutcome& o, const ArgumentScoring& scoring) {
  if (!o.expected_call) return o.got.made_call ? TurnMistake::UnwantedCall : TurnMistake::None;
  if (!o.got.made_call) return TurnMistake::MissedCall;
  if (!o.got.valid) return TurnMistake::UnparsedCall;
  if (!name_matches(o)) return TurnMistake::WrongTool;
  return calls_match(o.expected, o.got.calls, scoring) ? TurnMistake::None : TurnMistake::WrongArguments;
}

namespace {

// A call turn's part of the stated scores; `matched`: its calls parsed and match (arguments_match).
void count_stated(const ToolTurnOutcome& o, const ArgumentScoring& scoring, bool matched, ToolCallMetrics& m) {
  m.stated_pairs += argument_pairs(o.expected, scoring, &o.said);
  m.stated_pairs_matched += matched_argument_pairs(o.expected, o.got.calls, scoring, &o.said);
  if (!stated_turn(o.expected, o.said, scoring)) return;
  ++m.stated_call_turns;
  m.stated_arguments_matched += matched ? 1 : 0;
}

}  // namespace

ToolCallMetrics tool_metrics(const std::vector<ToolTurnOutcome>& outcomes, const ArgumentScoring& scoring) {
  ToolCallMetrics m;
  for (const auto& o : outcomes) {
    ++m.turns;
    if (o.expected_call) {
      ++m.call_turns;
      m.name_correct += name_matches(o) ? 1 : 0;
      m.exact += exact_match(o) ? 1 : 0;
      const bool matched = o.got.valid && calls_match(o.expected, o.got.calls, scoring);
      m.arguments_matched += matched ? 1 : 0;
      m.argument_pairs += argument_pairs(o.expected, scoring);
      m.argument_pairs_matched += matched_argument_pairs(o.expected, o.got.calls, scoring);
      count_stated(o, scoring, matched, m);
    } else {
      ++m.no_call_turns;
      m.no_call_correct += o.got.made_call ? 0 : 1;
    }
    switch (turn_mistake(o, scoring)) {
      case TurnMistake::None: break;
      case TurnMistake::MissedCall: ++m.missed_calls; break;
      case TurnMistake::UnparsedCall: ++m.unparsed_calls; break;
      case TurnMistake::WrongTool: ++m.wrong_tools; break;
      case TurnMistake::WrongArguments: ++m.wrong_arguments; break;
      case TurnMistake::UnwantedCall: ++m.unwanted_calls; break;
    }
    if (o.got.made_call) {
      ++m.model_call_turns;
      m.valid_calls += o.got.valid ? 1 : 0;
    }
  }
  m.name_accuracy = share(m.name_correct, m.call_turns);
  m.arguments_exact = share(m.exact, m.call_turns);
  m.valid_call_rate = share(m.valid_calls, m.model_call_turns);
  m.no_call_accuracy = share(m.no_call_correct, m.no_call_turns);
  m.arguments_match = share(m.arguments_matched, m.call_turns);
  m.argument_accuracy = share(m.argument_pairs_matched, m.argument_pairs);
  m.stated_arguments_match = share(m.stated_arguments_matched, m.stated_call_turns);
  m.stated_argument_accuracy = share(m.stated_pairs_matched, m.stated_pairs);
  return m;
}

ToolEvalResult evaluate_tool_calls(const Model& model, const ChatFormat& format,
                                   const std::vector<Example>& examples, const ToolEvalOptions& options) {
  std::vector<ToolTurn> turns;
  const size_t n = options.max_examples > 0
                       ? std::min(examples.size(), static_cast<size_t>(options.max_examples))
                       : examples.size();
  for (size_t i = 0; i < n; ++i) {
    if (!examples[i].conversation) continue;
    const Conversation* c = examples[i].conversation.get();
    Conversation offered;
    if (options.catalogue && c->tools_from_catalogue && !options.keep_subsets) {
      offered = *c;
      offered.tools = *options.catalogue;
      c = &offered;
    }
    for (auto& t : tool_turns(*c, format, examples[i].index)) turns.push_back(std::move(t));
  }
  GenerateOptions go;
  go.max_tokens = options.max_new_tokens;
  go.lora = options.lora;
  go.stop_ids = format.stop_ids();
  if (options.constrain)
    go.constraint = call_constraint_factory(
        format, options.constraint_catalogue ? options.constraint_catalogue : options.catalogue,
        model.config.eos_token_id);
  ToolEvalResult r;
  const auto start = std::chrono::steady_clock::now();
  const std::vector<std::vector<int32_t>> generated =
      options.batch_size <= 1 ? generate_in_order(model, turns, go, options.progress)
                              : generate_batched(model, turns, go, options);
  for (size_t i = 0; i < turns.size(); ++i) {
    ToolTurn& t = turns[i];
    ToolTurnOutcome o{t.example_index,
                      t.message_index,
                      std::move(t.prompt),
                      t.expected_call,
                      std::move(t.expected),
                      std::move(t.said),
                      {},
                      {},
                      0};
    o.generated = text_keeping_controls(format.tokenizer(), generated[i]);
    o.got = format.parse_tool_calls(o.generated);
    o.generated_tokens = static_cast<int>(generated[i].size());
    r.generated_tokens += o.generated_tokens;
    r.outcomes.push_back(std::move(o));
  }
  r.generate_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.metrics = tool_metrics(r.outcomes, options.scoring);
  return r;
}

}  // namespace mlxft
