// Hugging Face tokenizer.json (+ tokenizer_config.json beside it) -> BpeVocab.
#include "mlxft/tokenizer/bpe_load.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "mlxft/util/error.h"

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

JsonFile read_json(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorKind::Model, path.string(), "cannot open the tokenizer file");
  std::stringstream buffer;
  buffer << in.rdbuf();
  JsonFile file{path.string(), {}};
  try {
    file.root = json::parse(buffer.str());
  } catch (const json::exception& e) {
    throw Error(ErrorKind::Model, path.string(), std::string("not valid JSON: ") + e.what());
  }
  if (!file.root.is_object()) file.fail("(top level)", "expected a JSON object");
  return file;
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
    if (pattern.contains("Regex")) {
      steps.push_back(pattern["Regex"].get<std::string>());
    } else if (pattern.contains("String")) {
      steps.push_back("\\Q" + pattern["String"].get<std::string>() + "\\E");
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
    f.fail("model.type", "'" + model["type"].get<std::string>() + "' is not supported (expected \"BPE\")");
  for (const char* key : {"dropout", "continuing_subword_prefix", "end_of_word_suffix", "byte_fallback"})
    if (is_set(model, key)) f.fail(std::string("model.") + key, "is set; byte-level BPE does not support it");
  if (is_set(f.root, "normalizer")) f.fail("normalizer", "a normalizer is not supported for byte-level BPE");
  const json& decoder = f.root.value("decoder", json());
  if (!decoder.is_null() && decoder.value("type", std::string()) != "ByteLevel")
    f.fail("decoder.type", "only the ByteLevel decoder is supported");
}

void read_vocab_and_merges(const JsonFile& f, const json& model, BpeVocab& v) {
  if (!model.contains("vocab") || !model["vocab"].is_object())
    f.fail("model.vocab", "missing or not an object");
  for (const auto& [token, id_json] : model["vocab"].items()) {
    int64_t id = id_json.get<int64_t>();
    if (id < 0 || id > (1 << 24)) f.fail("model.vocab", "token '" + token + "' has id " + std::to_string(id));
    if (size_t(id) >= v.tokens.size()) v.tokens.resize(id + 1);
    v.tokens[id] = token;
  }
  const json& merges = model.value("merges", json::array());
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
  v.ignore_merges = model.value("ignore_merges", false);
}

void read_added_tokens(const JsonFile& f, BpeVocab& v) {
  const json& added = f.root.value("added_tokens", json::array());
  for (size_t i = 0; i < added.size(); ++i) {
    const json& t = added[i];
    const std::string key = "added_tokens[" + std::to_string(i) + "]";
    if (!t.contains("id") || !t.contains("content")) f.fail(key, "expected \"id\" and \"content\"");
    int64_t id = t["id"].get<int64_t>();
    if (id < 0 || id > (1 << 24)) f.fail(key + ".id", "out of range");
    bool special = t.value("special", false);
    if (!special && (t.value("lstrip", false) || t.value("rstrip", false) || t.value("single_word", false)))
      f.fail(key, "lstrip, rstrip and single_word on a non-special added token are not supported");
    if (size_t(id) >= v.tokens.size()) v.tokens.resize(id + 1);
    v.kinds.resize(v.tokens.size(), BpeTokenKind::Normal);
    v.tokens[id] = t["content"].get<std::string>();
    v.kinds[id] = special ? BpeTokenKind::Special : BpeTokenKind::UserDefined;
  }
}

// A token named in tokenizer_config.json: a string or {"content": ...}.
std::string config_token(const json& config, const char* key) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content")) return (*it)["content"].get<std::string>();
  return {};
}

void read_tokenizer_config(const std::filesystem::path& path, BpeVocab& v) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return;
  JsonFile f = read_json(path);
  auto id_of = [&](const char* key) -> int32_t {
    std::string text = config_token(f.root, key);
    if (text.empty()) return -1;
    for (size_t id = 0; id < v.tokens.size(); ++id)
      if (v.tokens[id] == text) return int32_t(id);
    f.fail(key, "token '" + text + "' is not in the vocabulary");
  };
  v.bos_id = id_of("bos_token");
  v.eos_id = id_of("eos_token");
  v.pad_id = id_of("pad_token");
  v.add_bos = f.root.value("add_bos_token", false);
  const json& tmpl = f.root.value("chat_template", json());
  if (tmpl.is_string()) {
    v.chat_template = tmpl.get<std::string>();
  } else if (tmpl.is_array()) {  // [{"name": "default", "template": ...}, ...]
    for (const auto& t : tmpl)
      if (t.value("name", std::string()) == "default") v.chat_template = t.value("template", std::string());
  }
}

BpeVocab read_tokenizer_json(const std::filesystem::path& tokenizer_json) {
  JsonFile f = read_json(tokenizer_json);
  const json& model = f.root.value("model", json());
  if (!model.is_object()) f.fail("model", "missing or not an object");
  check_model_options(f, model);
  BpeVocab v;
  v.source = f.path;
  read_vocab_and_merges(f, model, v);
  v.kinds.assign(v.tokens.size(), BpeTokenKind::Normal);
  read_added_tokens(f, v);
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
    const std::string unk = model["unk_token"].get<std::string>();
    auto it = std::find(v.tokens.begin(), v.tokens.end(), unk);
    if (it == v.tokens.end()) f.fail("model.unk_token", "'" + unk + "' is not in the vocabulary");
    v.unk_id = int32_t(it - v.tokens.begin());
  }
  read_tokenizer_config(tokenizer_json.parent_path() / "tokenizer_config.json", v);
  return v;
}

}  // namespace

BpeVocab bpe_vocab_from_tokenizer_json(const std::filesystem::path& tokenizer_json) {
  try {
    return read_tokenizer_json(tokenizer_json);
  } catch (const json::exception& e) {  // a value of the wrong JSON type somewhere
    throw Error(ErrorKind::Model, tokenizer_json.string(), std::string("unexpected JSON value: ") + e.what());
  }
}

}  // namespace mlxft
