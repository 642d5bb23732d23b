// Constrained tool calls: once a model opens a tool call, only tokens that keep the call well formed
// may follow.
//
// Contract:
// - CallSyntax (chat/chat_format.h, each format's call_syntax()) says how a format writes calls.
// - CallGrammar checks text one character at a time. Outside a call every character is allowed.
//   After the opener, the text must be a prefix of: whitespace, then the call object(s) -- a JSON
//   object whose first key is "name", with a string value that is the name of a tool of the
//   catalogue, and whose second and last key is "arguments", with an object value that fits that
//   tool's JSON schema (parameters): only its properties as keys, each at most once, every
//   required one before the object closes, each value of a type the property's schema allows
//   ("integer": no fraction or exponent; nested objects and array items checked the same way; a
//   property without a type takes any JSON value; no string spells the closer) -- then whitespace
//   and the closer. Whitespace
//   between the parts of a call comes in runs of at most 8 characters. With an
//   empty catalogue any name and any arguments object are allowed (well-formed JSON only). After a
//   block's closer the grammar is outside a call again; after a Mistral list it is done (nothing
//   but the turn's end may follow).
// - TokenConstraint applies a CallGrammar to token ids (the text of each id from the tokenizer):
//   allows(id) is true when the id's text keeps the grammar valid (stop ids: only outside an
//   unfinished call; an id whose text is empty: only outside a call), accept(id) advances it. A generation
//   loop picks the model's choice when it is allowed, else the allowed id with the highest logit
//   (eval/generate.h).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "mlxft/chat/chat_format.h"
#include "mlxft/tokenizer/tokenizer.h"
#include "mlxft/util/json_text.h"

namespace mlxft {

class CallGrammar {
 public:
  // catalogue: [{"type": "function", "function": {"name", "parameters"}}] (may be empty); kept by pointer.
  CallGrammar(const CallSyntax& syntax, std::shared_ptr<const OrderedJson> catalogue);
  bool feed(char c);                   // false when c is not allowed (the state is then undefined)
  bool feed(std::string_view text);    // every character; false at the first one not allowed
  bool in_call() const;                // inside an unfinished call
  bool done() const { return done_; }  // a Mistral list has closed

  // One open JSON value of the parse stack.
  struct Frame {
    enum class Kind { Object, Array, String, Number, Literal } kind = Kind::Object;
    enum class State { KeyOrEnd, Key, Colon, Value, CommaOrEnd, ValueOrEnd } state = State::KeyOrEnd;
    enum class Role { Value, Key, Name } role = Role::Value;  // strings: what the text is
    const OrderedJson* schema = nullptr;                      // object: its schema; array: the items' schema
    bool call = false;                                        // the call object {"name", "arguments"}
    const OrderedJson* tool = nullptr;                        // call: the named tool's parameters
    std::vector<std::string> used;                            // object: keys so far
    std::string key;                                          // object: the key whose value is read
    std::string text;                                         // string: its text (keys and names)
    std::vector<std::string> candidates;  // key and name strings: what the text may become
    bool escape = false;
    int hex = 0;           // string: \u digits still expected
    int number = 0;        // number: state of the JSON number automaton
    bool integer = false;  // number: no fraction or exponent allowed
    std::string rest;      // literal: characters still expected
  };

 private:
  bool feed_outside(char c);
  bool feed_body(char c);
  bool feed_object(Frame& f, char c);
  bool feed_array(Frame& f, char c);
  bool feed_string(Frame& f, char c);
  bool start_value(char c, const OrderedJson* schema);
  bool start_key(Frame& f);
  bool close_object(const Frame& f) const;
  void pop();

  CallSyntax syntax_;
  std::shared_ptr<const OrderedJson> catalogue_;
  std::string recent_;  // outside a call: the last characters, to spot the opener
  enum class Phase {
    Outside,
    BeforeList,
    BeforeCall,
    InCall,
    AfterCall,
    Closer,
    Done
  } phase_ = Phase::Outside;
  std::vector<Frame> stack_;
  size_t closer_at_ = 0;
  static constexpr int kMaxSpaces = 8;
  int spaces_ = 0;  // whitespace characters in a row between the parts of a call
  bool done_ = false;
};

class TokenConstraint {
 public:
  // token_texts: the text of every id (token_texts()); shared between the rows of a batch.
  TokenConstraint(CallGrammar grammar, std::shared_ptr<const std::vector<std::string>> token_texts,
                  std::set<int32_t> stop_ids);
  bool allows(int32_t id) const;
  void accept(int32_t id);

 private:
  CallGrammar grammar_;
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
