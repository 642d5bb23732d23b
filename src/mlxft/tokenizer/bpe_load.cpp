// Hugging Face tokenizer.json (+ tokenizer_config.json beside it) -> BpeVocab.
#include "mlxft/tokenizer/bpe_load.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "mlxft/util/error.h"
#include "mlxft/util/untrusted_file.h"

namespace mlxft {

namespace {

using nlohmann::json;

struct JsonFile {
  std::string path;
  json root;
  [[noreturn]] void fail(const std::string& key, const std::string& what,
                         const std::string& hint = {}) const {
    throw Error(ErrorKind::Model, path + ": " + key, what, hint);
  }
};

JsonFile read_json(const std::filesystem::path& path, const std::string& what) {
  JsonFile file{path.string(), read_untrusted_json(path, what, 256ull << 20)};
  if (!file.root.is_object()) file.fail("(top level)", "expected a JSON object");
  return file;
}

// Runs `read` on the file and turns a JSON value of an unexpected type (nlohmann's type_error,
// thrown where no check named the key) into a Model error naming this file.
template <class F>
auto with_file(const JsonFile& f, F&& read) {
  try {
    return read();
  } catch (const json::exception& e) {
    throw Error(ErrorKind::Model, f.path, std::string("a value has an unexpected JSON type: ") + e.what(),
                "compare the file with the model's original");
  }
}

// The id of a vocabulary or added token: an integer in [0, limit).
int64_t token_id(const JsonFile& f, const json& id, const std::string& key, int64_t limit) {
  if (!id.is_number_integer() || (id.is_number_unsigned() && id.get<uint64_t>() > (1ULL << 62)) ||
      id.get<int64_t>() < 0 || id.get<int64_t>() >= limit) {
    f.fail(key, "token id " + json_brief(id) + " is not an integer in [0, " + std::to_string(limit) + ")",
           "ids number the tokens from 0; an id far past the token count is a damaged file");
  }
  return id.get<int64_t>();
}

bool is_set(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && !it->is_null() && !(it->is_boolean() && !it->get<bool>()) &&
         !(it->is_string() && it->get<std::string>().empty()) &&
         !(it->is_number() && it->get<double>() == 0.0);
}

// One pre_tokenizer node (recursively for Sequence) -> regex steps; sets byte_level when seen.
void add_pretokenizer(const JsonFile& f, const json& node, const std::string& key,
                      std::vector<std::string>& steps, bool& byte_level) {
  if (!node.is_object() || !node.contains("type")) f.fail(key, "expected an object with a \"type\"");
  if (!node["type"].is_string()) f.fail(key + ".type", "must be a string, got " + json_brief(node["type"]));
  const std::string type = node["type"].get<std::string>();
  if (type == "Sequence") {
    const json& list = node.value("pretokenizers", json::array());
    for (size_t i = 0; i < list.size(); ++i)
      add_pretokenizer(f, list[i], key + ".pretokenizers[" + std::to_string(i) + "]", steps, byte_level);
  } else if (type == "ByteLevel") {
    if (is_set(node, "add_prefix_space"))
      f.fail(key + ".add_prefix_space", "ByteLevel with add_prefix_space = true is not supported");
    if (node.value("use_regex", true)) steps.push_back(kGpt2Pattern);
    byte_level = true;
  } else if (type == "Digits") {
    steps.push_back(node.value("individual_digits", false) ? kDigitPattern : kDigitsPattern);
  } else if (type == "Split") {
    if (node.value("behavior", std::string()) != "Isolated")
      f.fail(key + ".behavior", "only Split with behavior \"Isolated\" is supported");
    if (is_set(node, "invert")) f.fail(key + ".invert", "an inverted Split is not supported");
    const json& pattern = node.value("pattern", json::object());
    if (pattern.is_object() && pattern.contains("Regex")) {
      steps.push_back(json_string(pattern, "Regex", f.path + ": " + key + ".pattern", ""));
    } else if (pattern.is_object() && pattern.contains("String")) {
      steps.push_back("\\Q" + json_string(pattern, "String", f.path + ": " + key + ".pattern", "") + "\\E");
    } else {
      f.fail(key + ".pattern", "expected {\"Regex\": ...} or {\"String\": ...}");
    }
  } else {
    f.fail(key + ".type", "pre-tokenizer '" + type + "' is not supported",
           "supported: ByteLevel, Digits, Split (Isolated), Sequence");
  }
}

void check_model_options(const JsonFile& f, const json& model) {
  if (model.contains("type") && model["type"] != "BPE")
    f.fail("model.type", json_brief(model["type"]) + " is not supported (expected \"BPE\")");
  for (const char* key : {"dropout", "continuing_subword_prefix", "end_of_word_suffix", "byte_fallback"})
    if (is_set(model, key)) f.fail(std::string("model.") + key, "is set; byte-level BPE does not support it");
  if (is_set(f.root, "normalizer")) f.fail("normalizer", "a normalizer is not supported for byte-level BPE");
  const json& decoder = f.root.value("decoder", json());
  if (!decoder.is_null() && json_string(decoder, "type", f.path + ": decoder", "") != "ByteLevel")
    f.fail("decoder.type", "only the ByteLevel decoder is supported");
}

// Ids are bounded by the number of tokens the file holds (plus slack for padded vocabularies), so a
// single id of 2^24 cannot size the table; two tokens with one id would make characters vanish.
int64_t id_limit(const JsonFile& f, const json& model) {
  const json& added = f.root.value("added_tokens", json::array());
  return static_cast<int64_t>(model["vocab"].size() + (added.is_array() ? added.size() : 0)) + 65536;
}

void read_vocab_and_merges(const JsonFile& f, const json& model, BpeVocab& v) {
  if (!model.contains("vocab") || !model["vocab"].is_object())
    f.fail("model.vocab", "missing or not an object");
  const int64_t limit = id_limit(f, model);
  for (const auto& [token, id_json] : model["vocab"].items()) {
    const int64_t id = token_id(f, id_json, "model.vocab." + token, limit);
    if (size_t(id) >= v.tokens.size()) v.tokens.resize(id + 1);
    if (!v.tokens[id].empty()) {
      f.fail("model.vocab." + token,
             "has id " + std::to_string(id) + ", which token '" + v.tokens[id] + "' already has",
             "every token needs its own id; the file is damaged");
    }
    if (token.empty()) f.fail("model.vocab", "id " + std::to_string(id) + " has an empty token");
    v.tokens[id] = token;
  }
  const json& merges = model.value("merges", json::array());
  if (!merges.is_array()) f.fail("model.merges", "must be a list, got " + json_brief(merges));
  v.merges.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const json& m = merges[i];
    if (m.is_string()) {
      const std::string s = m.get<std::string>();
      size_t space = s.find(' ', 1);
      if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos)
        f.fail("model.merges[" + std::to_string(i) + "]", "'" + s + "' is not \"left right\"");
      v.merges.emplace_back(s.substr(0, space), s.substr(space + 1));
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      v.merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      f.fail("model.merges[" + std::to_string(i) + "]", "expected \"left right\" or [\"left\", \"right\"]");
    }
  }
  v.ignore_merges = json_boolean(model, "ignore_merges", f.path + ": model", false);
}

void read_added_tokens(const JsonFile& f, const json& model, BpeVocab& v) {
  const json& added = f.root.value("added_tokens", json::array());
  if (!added.is_array()) f.fail("added_tokens", "must be a list, got " + json_brief(added));
  const int64_t limit = id_limit(f, model);
  const size_t vocab_ids = v.tokens.size();
  std::vector<bool> seen;
  for (size_t i = 0; i < added.size(); ++i) {
    const json& t = added[i];
    const std::string key = "added_tokens[" + std::to_string(i) + "]";
    if (!t.is_object() || !t.contains("id") || !t.contains("content"))
      f.fail(key, "expected \"id\" and \"content\"");
    const int64_t id = token_id(f, t["id"], key + ".id", limit);
    const std::string where = f.path + ": " + key;
    const std::string content = json_string(t, "content", where, "");
    if (content.empty()) f.fail(key + ".content", "must be a non-empty string");
    const bool special = json_boolean(t, "special", where, false);
    if (!special && (json_boolean(t, "lstrip", where, false) || json_boolean(t, "rstrip", where, false) ||
                     json_boolean(t, "single_word", where, false)))
      f.fail(key, "lstrip, rstrip and single_word on a non-special added token are not supported");
    if (size_t(id) >= seen.size()) seen.resize(id + 1, false);
    // An added token usually repeats its vocabulary entry (same id, same text); another text under
    // an id already taken, or one id added twice, would lose a token.
    const bool in_vocab = size_t(id) < vocab_ids && !v.tokens[id].empty();
    if (seen[id] || (in_vocab && v.tokens[id] != content)) {
      f.fail(key + ".id",
             "id " + std::to_string(id) + " is already token '" + v.tokens[id] + "', not '" + content + "'",
             "every token needs its own id; the file is damaged");
    }
    seen[id] = true;
    if (size_t(id) >= v.tokens.size()) v.tokens.resize(id + 1);
    v.kinds.resize(v.tokens.size(), BpeTokenKind::Normal);
    v.tokens[id] = content;
    v.kinds[id] = special ? BpeTokenKind::Special : BpeTokenKind::UserDefined;
  }
}

// A token named in tokenizer_config.json: a string or {"content": ...}.
std::string config_token(const JsonFile& f, const char* key) {
  auto it = f.root.find(key);
  if (it == f.root.end() || it->is_null()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content"))
    return json_string(*it, "content", f.path + ": " + key, "");
  f.fail(key, "must be a string or {\"content\": ...}, got " + json_brief(*it));
}

void read_config_keys(const JsonFile& f, BpeVocab& v) {
  auto id_of = [&](const char* key) -> int32_t {
    std::string text = config_token(f, key);
    if (text.empty()) return -1;
    for (size_t id = 0; id < v.tokens.size(); ++id)
      if (v.tokens[id] == text) return int32_t(id);
    f.fail(key, "token '" + text + "' is not in the vocabulary");
  };
  v.bos_id = id_of("bos_token");
  v.eos_id = id_of("eos_token");
  v.pad_id = id_of("pad_token");
  v.add_bos = json_boolean(f.root, "add_bos_token", f.path, false);
  const json& tmpl = f.root.value("chat_template", json());
  if (tmpl.is_string()) {
    v.chat_template = tmpl.get<std::string>();
  } else if (tmpl.is_array()) {  // [{"name": "default", "template": ...}, ...]
    for (size_t i = 0; i < tmpl.size(); ++i) {
      const std::string where = f.path + ": chat_template[" + std::to_string(i) + "]";
      if (json_string(tmpl[i], "name", where, "") == "default")
        v.chat_template = json_string(tmpl[i], "template", where, "");
    }
  } else if (!tmpl.is_null()) {
    f.fail("chat_template", "must be a string or a list of {name, template}, got " + json_brief(tmpl));
  }
}

void read_tokenizer_config(const std::filesystem::path& path, BpeVocab& v) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return;  // optional; a FIFO or directory is refused
  const JsonFile f = read_json(path, "tokenizer_config.json");
  with_file(f, [&] { read_config_keys(f, v); });
}

BpeVocab read_tokenizer_json(const JsonFile& f) {
  const json& model = f.root.value("model", json());
  if (!model.is_object()) f.fail("model", "missing or not an object");
  check_model_options(f, model);
  BpeVocab v;
  v.source = f.path;
  read_vocab_and_merges(f, model, v);
  v.kinds.assign(v.tokens.size(), BpeTokenKind::Normal);
  read_added_tokens(f, model, v);
  for (size_t id = 0; id < v.tokens.size(); ++id) {
    if (v.tokens[id].empty()) {  // a hole in the ids
      v.tokens[id] = "<unused:" + std::to_string(id) + ">";
      v.kinds[id] = BpeTokenKind::Unused;
    }
  }
  bool byte_level = false;
  const json& pre = f.root.value("pre_tokenizer", json());
  if (pre.is_null()) f.fail("pre_tokenizer", "missing: byte-level BPE needs a ByteLevel pre-tokenizer");
  add_pretokenizer(f, pre, "pre_tokenizer", v.pretokenizer, byte_level);
  if (!byte_level) f.fail("pre_tokenizer", "no ByteLevel step: only byte-level BPE is supported");
  if (is_set(model, "unk_token")) {
    const std::string unk = json_string(model, "unk_token", f.path + ": model", "");
    auto it = std::find(v.tokens.begin(), v.tokens.end(), unk);
    if (it == v.tokens.end()) f.fail("model.unk_token", "'" + unk + "' is not in the vocabulary");
    v.unk_id = int32_t(it - v.tokens.begin());
  }
  return v;
}

}  // namespace

BpeVocab bpe_vocab_from_tokenizer_json(const std::filesystem::path& tokenizer_json) {
  const JsonFile f = read_json(tokenizer_json, "tokenizer file");
  BpeVocab v = with_file(f, [&] { return read_tokenizer_json(f); });
  // tokenizer_config.json reports its own errors under its own name.
  read_tokenizer_config(tokenizer_json.parent_path() / "tokenizer_config.json", v);
  return v;
}

}  // namespace mlxft
