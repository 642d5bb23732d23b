#include "mlxft/eval/call_constraint.h"

#include <algorithm>

namespace mlxft {

TokenConstraint::TokenConstraint(CallGrammar grammar,
                                 std::shared_ptr<const std::vector<std::string>> token_texts,
                                 std::set<int32_t> stop_ids)
    : grammar_(std::move(grammar)), texts_(std::move(token_texts)), stops_(std::move(stop_ids)) {}

const std::string* TokenConstraint::finishing() const {
  if (budget_ <= 0 || !grammar_.in_call()) return nullptr;
  if (finish_at_ != accepted_) {
    finish_ = grammar_.finish();
    finish_at_ = accepted_;
  }
  const int left = budget_ - accepted_;
  return !finish_.empty() && static_cast<int>(finish_.size()) + kFinishMargin >= left ? &finish_ : nullptr;
}

bool TokenConstraint::allows(int32_t id) const {
  if (stops_.count(id)) return !grammar_.in_call();
  if (id < 0 || static_cast<size_t>(id) >= texts_->size()) return !grammar_.in_call() && !grammar_.done();
  const std::string& text = (*texts_)[static_cast<size_t>(id)];
  if (text.empty()) return !grammar_.in_call();  // no progress: never inside a call
  if (const std::string* finish = finishing()) return finish->compare(0, text.size(), text) == 0;
  CallGrammar trial = grammar_;
  return trial.feed(text);
}

void TokenConstraint::accept(int32_t id) {
  ++accepted_;
  if (stops_.count(id) || id < 0 || static_cast<size_t>(id) >= texts_->size()) return;
  (void)grammar_.feed((*texts_)[static_cast<size_t>(id)]);
}

int32_t constrained_choice(const TokenConstraint& constraint, const float* logits, size_t vocab,
                           int32_t preferred) {
  if (constraint.allows(preferred)) return preferred;
  std::vector<int32_t> order(vocab);
  for (size_t i = 0; i < vocab; ++i) order[i] = static_cast<int32_t>(i);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  for (int32_t id : order)
    if (constraint.allows(id)) return id;
  return preferred;
}

std::vector<std::string> token_texts(const Tokenizer& tokenizer) {
  const int32_t n = tokenizer.vocab_size();
  std::vector<std::string> texts(static_cast<size_t>(std::max(0, n)));
  // SentencePiece drops a word's leading space at the start of a text: decode after an anchor token.
  const bool anchored = tokenizer.kind() == "sentencepiece";
  const std::vector<int32_t> anchor = anchored ? tokenizer.encode("a") : std::vector<int32_t>{};
  const std::string anchor_text = anchored ? tokenizer.decode(anchor) : std::string();
  for (int32_t id = 0; id < n; ++id) {
    auto& t = texts[static_cast<size_t>(id)];
    if (tokenizer.is_control(id)) {
      t = tokenizer.piece(id);
      continue;
    }
    std::vector<int32_t> ids = anchor;
    ids.push_back(id);
    t = tokenizer.decode(ids);
    t.erase(0, std::min(t.size(), anchor_text.size()));
  }
  return texts;
}

std::function<std::unique_ptr<TokenConstraint>()> call_constraint_factory(
    const ChatFormat& format, std::shared_ptr<const OrderedJson> catalogue, int32_t eos_id) {
  auto texts = std::make_shared<const std::vector<std::string>>(token_texts(format.tokenizer()));
  const std::vector<int32_t> stop_ids = format.stop_ids();
  std::set<int32_t> stops(stop_ids.begin(), stop_ids.end());
  stops.insert(eos_id);
  return [syntax = format.call_syntax(), catalogue = std::move(catalogue), texts, stops] {
    return std::make_unique<TokenConstraint>(CallGrammar(syntax, catalogue), texts, stops);
  };
}

}  // namespace mlxft
