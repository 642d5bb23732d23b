// The grammar of a chat format's tool calls, checked one character at a time (what constrained
// decoding enforces, eval/call_constraint.h).
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
//   property without a type takes any JSON value; no string spells the closer; a string value whose
//   last characters are one piece repeated 4 times or more, 48 characters or more, may only close,
//   so a model caught in a loop still finishes its call) -- then whitespace
//   and the closer. Whitespace between the parts of a call comes in runs of at most 8 characters.
//   With an empty catalogue any name and any arguments object are allowed (well-formed JSON only).
//   After a block's closer the grammar is outside a call again; after a Mistral list it is done
//   (nothing but the turn's end may follow).
// - finish(): inside a call, a short text that completes it (through the closer, or a Mistral
//   list's "]") and that the grammar accepts: open strings closed, numbers and literals completed,
//   missing required keys added with the smallest value their schema allows ("", 0, false, null,
//   [], {}), containers closed. Empty outside a call, or when no completion is found (never for
//   a grammar fed only allowed text). What a generation short of tokens falls back to.
// - A CallGrammar is a value: copying it copies the state (a trial feed on a copy leaves the
//   original as it was).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mlxft/chat/chat_format.h"
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
  std::string finish() const;

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
    std::string tail;                                         // value string: its last characters, as written
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
  std::string finish_step() const;  // what finish() tries next, most wanted first

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

}  // namespace mlxft
