// Constrained tool calls: once a model opens a tool call, only tokens that keep the call well formed
// may follow.
//
// Contract:
// - TokenConstraint applies a CallGrammar (eval/call_grammar.h) to token ids (the text of each id
//   from the tokenizer): allows(id) is true when the id's text keeps the grammar valid (stop ids:
//   only outside an unfinished call; an id whose text is empty: only outside a call), accept(id)
//   advances it. A generation loop picks the model's choice when it is allowed, else the allowed
//   id with the highest logit (constrained_choice(), used by eval/generate.h).
// - set_budget(n): the generation stops after n tokens. Once an unfinished call needs all that is
//   left to finish (the grammar's finish() has kFinishMargin fewer characters than tokens remain;
//   every character is a token at worst, and one token may lengthen finish()), only ids whose text continues finish() are allowed, so a call cut short by
//   the budget still closes and parses (its last values may be cut). 0 (the default): no budget.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "mlxft/chat/chat_format.h"
#include "mlxft/eval/call_grammar.h"
#include "mlxft/tokenizer/tokenizer.h"
#include "mlxft/util/json_text.h"

namespace mlxft {

class TokenConstraint {
 public:
  // token_texts: the text of every id (token_texts()); shared between the rows of a batch.
  TokenConstraint(CallGrammar grammar, std::shared_ptr<const std::vector<std::string>> token_texts,
                  std::set<int32_t> stop_ids);
  bool allows(int32_t id) const;
  void accept(int32_t id);
  void set_budget(int tokens) { budget_ = tokens; }
  static constexpr int kFinishMargin = 16;

 private:
  const std::string* finishing() const;  // finish() when the budget calls for it, else null

  CallGrammar grammar_;
  int budget_ = 0, accepted_ = 0;
  mutable int finish_at_ = -1;  // accepted_ when finish_ was computed
  mutable std::string finish_;
  std::shared_ptr<const std::vector<std::string>> texts_;
  std::set<int32_t> stops_;
};

// The choice under a constraint: `preferred` when allowed, else the allowed id with the highest
// logits[id] (the lowest id on a tie; `preferred` when no id is allowed).
int32_t constrained_choice(const TokenConstraint& constraint, const float* logits, size_t vocab,
                           int32_t preferred);

// The text each id contributes inside a longer text (control tokens as their piece).
std::vector<std::string> token_texts(const Tokenizer& tokenizer);

// What GenerateOptions::constraint takes: a fresh TokenConstraint for `format`'s calls over
// `catalogue` (null or empty: any name, any arguments object), its stop ids and eos_id as the ends.
std::function<std::unique_ptr<TokenConstraint>()> call_constraint_factory(
    const ChatFormat& format, std::shared_ptr<const OrderedJson> catalogue, int32_t eos_id);

}  // namespace mlxft
