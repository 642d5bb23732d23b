#include "mlxft/eval/call_grammar.h"

#include <algorithm>

namespace mlxft {

namespace {

using Frame = CallGrammar::Frame;
using Kind = Frame::Kind;
using State = Frame::State;
using TextRole = Frame::Role;

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// Whether a schema lets a value of JSON type `type` stand there (no schema or no "type": anything).
bool allows_type(const OrderedJson* schema, const std::string& type) {
  if (schema == nullptr || !schema->is_object()) return true;
  const auto t = schema->find("type");
  if (t == schema->end()) return true;
  const auto one = [&](const OrderedJson& v) { return v.is_string() && v.get<std::string>() == type; };
  if (t->is_string()) return one(*t);
  if (t->is_array()) return std::any_of(t->begin(), t->end(), one);
  return true;
}

const OrderedJson* member(const OrderedJson* schema, const char* name) {
  if (schema == nullptr || !schema->is_object()) return nullptr;
  const auto it = schema->find(name);
  return it == schema->end() ? nullptr : &*it;
}

// The keys an object may still take: its schema's properties not yet used (empty: any key).
std::vector<std::string> open_keys(const Frame& f) {
  std::vector<std::string> keys;
  if (f.call) {
    keys.push_back(f.used.empty() ? "name" : "arguments");
    return keys;
  }
  const OrderedJson* props = member(f.schema, "properties");
  if (props == nullptr || !props->is_object()) return keys;
  for (const auto& [k, v] : props->items())
    if (std::find(f.used.begin(), f.used.end(), k) == f.used.end()) keys.push_back(k);
  return keys;
}

bool constrained_keys(const Frame& f) {
  const OrderedJson* props = member(f.schema, "properties");
  return f.call || (props != nullptr && props->is_object());
}

// JSON number automaton: 0 start (after '-'), 1 zero, 2 int digits, 3 after '.', 4 fraction digits,
// 5 after 'e', 6 after the exponent's sign, 7 exponent digits. Terminal: 1, 2, 4, 7.
int number_step(int state, char c, bool integer) {
  switch (state) {
    case 0: return c == '0' ? 1 : is_digit(c) ? 2 : -1;
    case 1: return integer ? -1 : c == '.' ? 3 : (c == 'e' || c == 'E') ? 5 : -1;
    case 2: return is_digit(c) ? 2 : integer ? -1 : c == '.' ? 3 : (c == 'e' || c == 'E') ? 5 : -1;
    case 3: return is_digit(c) ? 4 : -1;
    case 4: return is_digit(c) ? 4 : (c == 'e' || c == 'E') ? 5 : -1;
    case 5: return (c == '+' || c == '-') ? 6 : is_digit(c) ? 7 : -1;
    case 6: return is_digit(c) ? 7 : -1;
    case 7: return is_digit(c) ? 7 : -1;
  }
  return -1;
}
bool number_terminal(int state) {
  return state == 1 || state == 2 || state == 4 || state == 7;
}

// A string value caught in a loop: its last characters are one piece of 1 to 64 characters
// repeated at least 4 times, 48 characters or more in all ("No changes. No changes. ...").
bool looping(const std::string& tail) {
  const size_t n = tail.size();
  for (size_t p = 1; p <= 64 && 4 * p <= n; ++p) {
    const std::string_view last(tail.data() + n - p, p);
    size_t copies = 1;
    while ((copies + 1) * p <= n && std::string_view(tail.data() + n - (copies + 1) * p, p) == last) ++copies;
    if (copies >= 4 && copies * p >= 48) return true;
  }
  return false;
}

// The first character of the smallest value a schema allows (a string when it allows anything).
char smallest_value_start(const OrderedJson* schema) {
  for (const auto& [type, c] : {std::pair<const char*, char>{"string", '"'}, {"integer", '0'}, {"number", '0'},
                                {"boolean", 'f'}, {"null", 'n'}, {"array", '['}, {"object", '{'}})
    if (allows_type(schema, type)) return c;
  return '"';
}

// A key string's next character: toward a required key not yet used when one fits, else toward the
// shortest candidate the text can still become; '"' once the text is that key.
char key_step(const Frame& key, const Frame& object) {
  const OrderedJson* required = member(object.schema, "required");
  const std::string* best = nullptr;
  for (int pass = 0; pass < 2 && best == nullptr; ++pass) {
    for (const auto& c : key.candidates) {
      if (c.compare(0, key.text.size(), key.text) != 0) continue;
      const bool is_required = required != nullptr && required->is_array() &&
                               std::find(required->begin(), required->end(), c) != required->end();
      if (pass == 0 && !is_required) continue;
      if (best == nullptr || c.size() < best->size()) best = &c;
    }
  }
  if (best == nullptr || best->size() == key.text.size()) return '"';
  return (*best)[key.text.size()];
}

bool prefix_of_any(const std::string& text, const std::vector<std::string>& candidates) {
  return std::any_of(candidates.begin(), candidates.end(),
                     [&](const std::string& c) { return c.compare(0, text.size(), text) == 0; });
}

}  // namespace

CallGrammar::CallGrammar(const CallSyntax& syntax, std::shared_ptr<const OrderedJson> catalogue)
    : syntax_(syntax), catalogue_(std::move(catalogue)) {}

bool CallGrammar::in_call() const {
  return phase_ != Phase::Outside && phase_ != Phase::Done;
}

bool CallGrammar::feed(std::string_view text) {
  for (char c : text)
    if (!feed(c)) return false;
  return true;
}

bool CallGrammar::feed(char c) {
  // Whitespace between the parts of a call: a run of at most kMaxSpaces (a model that keeps emitting
  // newlines would otherwise never finish its call).
  const bool structural =
      phase_ != Phase::Outside && !(phase_ == Phase::InCall && stack_.back().kind == Kind::String);
  if (structural && is_space(c)) {
    if (++spaces_ > kMaxSpaces) return false;
  } else {
    spaces_ = 0;
  }
  switch (phase_) {
    case Phase::Outside: return feed_outside(c);
    case Phase::BeforeList:
      if (is_space(c)) return true;
      if (c != '[') return false;
      phase_ = Phase::BeforeCall;
      return true;
    case Phase::BeforeCall: {
      if (is_space(c)) return true;
      if (c != '{') return false;
      Frame call;
      call.call = true;
      stack_.push_back(std::move(call));
      phase_ = Phase::InCall;
      return true;
    }
    case Phase::InCall: return feed_body(c);
    case Phase::AfterCall:
      if (is_space(c)) return true;
      if (syntax_.list) {
        if (c == ',') phase_ = Phase::BeforeCall;
        if (c == ']') phase_ = Phase::Done, done_ = true;
        return c == ',' || c == ']';
      }
      if (syntax_.closer.empty() || c != syntax_.closer[0]) return false;
      closer_at_ = 1;
      phase_ = closer_at_ == syntax_.closer.size() ? Phase::Outside : Phase::Closer;
      return true;
    case Phase::Closer:
      if (c != syntax_.closer[closer_at_]) return false;
      if (++closer_at_ == syntax_.closer.size()) phase_ = Phase::Outside;
      return true;
    case Phase::Done: return is_space(c);
  }
  return false;
}

std::string CallGrammar::finish() const {
  if (!in_call()) return {};
  CallGrammar g = *this;
  std::string out;
  for (int step = 0; step < 4096 && g.in_call(); ++step) {
    bool fed = false;
    for (char c : g.finish_step() + "\"}],:0") {
      CallGrammar trial = g;
      if (!trial.feed(c)) continue;
      g = std::move(trial);
      out += c;
      fed = true;
      break;
    }
    if (!fed) return {};
  }
  return g.in_call() ? std::string() : out;
}

std::string CallGrammar::finish_step() const {
  switch (phase_) {
    case Phase::BeforeList: return "[";
    case Phase::BeforeCall: return "{";
    case Phase::AfterCall: return syntax_.list ? "]" : syntax_.closer.substr(0, 1);
    case Phase::Closer: return syntax_.closer.substr(closer_at_, 1);
    default: break;
  }
  if (stack_.empty()) return {};
  const Frame& f = stack_.back();
  switch (f.kind) {
    case Kind::String:
      if (f.hex > 0) return "0";
      if (f.escape) return "n";
      if (f.role == TextRole::Value || f.candidates.empty()) return "\"";
      return std::string(1, key_step(f, stack_[stack_.size() - 2]));
    case Kind::Number: return number_terminal(f.number) ? "}]," : "0";
    case Kind::Literal: return f.rest.substr(0, 1);
    case Kind::Array: return f.state == State::Value ? std::string(1, smallest_value_start(f.schema)) : "]";
    case Kind::Object: break;
  }
  switch (f.state) {
    case State::KeyOrEnd:
    case State::CommaOrEnd: return close_object(f) ? "}" : f.state == State::KeyOrEnd ? "\"" : ",";
    case State::Key: return "\"";
    case State::Colon: return ":";
    case State::Value: {
      if (f.call) return f.key == "arguments" ? "{" : "\"";
      const OrderedJson* props = member(f.schema, "properties");
      return std::string(1, smallest_value_start(props != nullptr ? member(props, f.key.c_str()) : nullptr));
    }
    case State::ValueOrEnd: return "]";
  }
  return {};
}

bool CallGrammar::feed_outside(char c) {
  recent_ += c;
  if (recent_.size() > syntax_.opener.size()) recent_.erase(0, recent_.size() - syntax_.opener.size());
  if (!syntax_.opener.empty() && recent_ == syntax_.opener) {
    recent_.clear();
    phase_ = syntax_.list ? Phase::BeforeList : Phase::BeforeCall;
  }
  return true;
}

void CallGrammar::pop() {
  stack_.pop_back();
  if (stack_.empty()) phase_ = Phase::AfterCall;
}

bool CallGrammar::feed_body(char c) {
  Frame& f = stack_.back();
  switch (f.kind) {
    case Kind::Object: return feed_object(f, c);
    case Kind::Array: return feed_array(f, c);
    case Kind::String: return feed_string(f, c);
    case Kind::Literal:
      if (f.rest.empty() || c != f.rest[0]) return false;
      f.rest.erase(0, 1);
      if (f.rest.empty()) pop();
      return true;
    case Kind::Number: {
      const int next = number_step(f.number, c, f.integer);
      if (next >= 0) {
        f.number = next;
        return true;
      }
      if (!number_terminal(f.number)) return false;
      pop();  // the number ended; its container reads c
      return feed_body(c);
    }
  }
  return false;
}

bool CallGrammar::start_key(Frame& f) {
  Frame s;
  s.kind = Kind::String;
  s.role = TextRole::Key;
  if (constrained_keys(f)) {
    s.candidates = open_keys(f);
    if (s.candidates.empty()) return false;
  }
  stack_.push_back(std::move(s));
  return true;
}

bool CallGrammar::close_object(const Frame& f) const {
  if (f.call) return f.used.size() == 2;
  const OrderedJson* required = member(f.schema, "required");
  if (required == nullptr || !required->is_array()) return true;
  for (const auto& r : *required)
    if (r.is_string() && std::find(f.used.begin(), f.used.end(), r.get<std::string>()) == f.used.end())
      return false;
  return true;
}

bool CallGrammar::feed_object(Frame& f, char c) {
  if (is_space(c)) return true;
  switch (f.state) {
    case State::KeyOrEnd:
      if (c == '}') {
        if (!close_object(f)) return false;
        pop();
        return true;
      }
      return c == '"' && start_key(f);
    case State::Key: return c == '"' && start_key(f);
    case State::Colon:
      if (c != ':') return false;
      f.state = State::Value;
      return true;
    case State::Value: {
      f.state = State::CommaOrEnd;
      if (!f.call) {
        const OrderedJson* props = member(f.schema, "properties");
        return start_value(c, props != nullptr ? member(props, f.key.c_str()) : nullptr);
      }
      if (f.key == "arguments") {
        if (c != '{') return false;
        Frame args;
        args.schema = f.tool;
        stack_.push_back(std::move(args));
        return true;
      }
      if (c != '"') return false;  // "name": a catalogue name
      Frame name;
      name.kind = Kind::String;
      name.role = TextRole::Name;
      if (catalogue_)
        for (const auto& t : *catalogue_) name.candidates.push_back(t["function"]["name"].get<std::string>());
      stack_.push_back(std::move(name));
      return true;
    }
    case State::CommaOrEnd:
      if (c == ',') {
        if (constrained_keys(f) && open_keys(f).empty()) return false;  // no key may follow
        if (f.call && f.used.size() >= 2) return false;
        f.state = State::Key;
        return true;
      }
      if (c != '}' || !close_object(f)) return false;
      pop();
      return true;
    case State::ValueOrEnd: return false;
  }
  return false;
}

bool CallGrammar::feed_array(Frame& f, char c) {
  if (is_space(c)) return true;
  if (c == ']' && f.state != State::Value) {
    pop();
    return true;
  }
  if (f.state == State::CommaOrEnd) {
    if (c != ',') return false;
    f.state = State::Value;
    return true;
  }
  f.state = State::CommaOrEnd;
  return start_value(c, f.schema);
}

bool CallGrammar::feed_string(Frame& f, char c) {
  const bool free_text = f.role == TextRole::Value || f.candidates.empty();
  if (f.role == TextRole::Value) {  // a value that loops may only close
    if (f.hex == 0 && !f.escape && c != '"' && looping(f.tail)) return false;
    f.tail += c;
    if (f.tail.size() > 512) f.tail.erase(0, f.tail.size() - 256);
  }
  if (f.hex > 0) {
    if (!is_hex(c)) return false;
    --f.hex;
    return true;
  }
  if (f.escape) {
    f.escape = false;
    if (c == 'u') f.hex = 4;
    return std::string_view("\"\\/bfnrtu").find(c) != std::string_view::npos;
  }
  if (c == '\\') {
    f.escape = true;
    return free_text;
  }
  if (static_cast<unsigned char>(c) < 0x20) return false;
  if (c != '"') {
    if (free_text) {
      f.text += c;
      if (f.role != TextRole::Value) return true;
      // A value keeps its last characters only: it must never spell the closer, which a parser
      // would take for the end of the block.
      const size_t keep = syntax_.closer.size();
      if (f.text.size() > keep) f.text.erase(0, f.text.size() - keep);
      return keep == 0 || f.text != syntax_.closer;
    }
    f.text += c;
    return prefix_of_any(f.text, f.candidates);
  }
  // The closing quote.
  if (!free_text && std::find(f.candidates.begin(), f.candidates.end(), f.text) == f.candidates.end())
    return false;
  const Frame done = std::move(f);
  stack_.pop_back();
  if (done.role == TextRole::Value) {
    if (stack_.empty()) phase_ = Phase::AfterCall;
    return true;
  }
  Frame& parent = stack_.back();
  if (done.role == TextRole::Key) {
    if (std::find(parent.used.begin(), parent.used.end(), done.text) != parent.used.end()) return false;
    parent.key = done.text;
    parent.used.push_back(done.text);
    parent.state = State::Colon;
    return true;
  }
  // TextRole::Name: the call's tool, whose parameters the arguments must fit.
  if (catalogue_) {
    for (const auto& t : *catalogue_) {
      if (t["function"]["name"] != done.text) continue;
      parent.tool = member(&t["function"], "parameters");
    }
  }
  return true;
}

bool CallGrammar::start_value(char c, const OrderedJson* schema) {
  Frame v;
  v.schema = schema;
  if (c == '{') {
    if (!allows_type(schema, "object")) return false;
    stack_.push_back(std::move(v));
    return true;
  }
  if (c == '[') {
    if (!allows_type(schema, "array")) return false;
    v.kind = Kind::Array;
    v.state = State::ValueOrEnd;
    v.schema = member(schema, "items");
    stack_.push_back(std::move(v));
    return true;
  }
  if (c == '"') {
    if (!allows_type(schema, "string")) return false;
    v.kind = Kind::String;
    stack_.push_back(std::move(v));
    return true;
  }
  if (c == 't' || c == 'f' || c == 'n') {
    if (!allows_type(schema, c == 'n' ? "null" : "boolean")) return false;
    v.kind = Kind::Literal;
    v.rest = c == 't' ? "rue" : c == 'f' ? "alse" : "ull";
    stack_.push_back(std::move(v));
    return true;
  }
  if (c == '-' || is_digit(c)) {
    const bool number = allows_type(schema, "number"), integer = allows_type(schema, "integer");
    if (!number && !integer) return false;
    v.kind = Kind::Number;
    v.integer = !number;
    v.number = c == '-' ? 0 : number_step(0, c, v.integer);
    stack_.push_back(std::move(v));
    return true;
  }
  return false;
}

}  // namespace mlxft
