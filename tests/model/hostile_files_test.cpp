// A generated corpus of hostile model files, one per class of malice the loaders must refuse (issue 34):
// deep JSON, values of the wrong type, sizes that would allocate before validation, duplicate token
// ids, paths out of the model directory, non-regular files, GGUF tensor types no model loads, quantized
// weights of the wrong dtype. Each case starts from a valid tiny model, breaks one thing, and asserts
// that loading throws mlxft::Error naming the broken file (and the key or tensor where there is one):
// never a crash, a hang, an allocation sized by the file, or an internal error.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <functional>

#include "mlxft/formats/gguf_writer.h"
#include "mlxft/model/llama.h"
#include "mlxft/model/quant_io.h"
#include "mlxft/tokenizer/load.h"
#include "mlxft/util/error.h"
#include "mlxft/util/untrusted_file.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
namespace mx = mlx::core;

namespace mlxft {
namespace {

const fs::path kTinyHf = test::source_dir() / "tests/golden/hf_tiny/mistral";
const fs::path kTinyBpe = test::source_dir() / "tests/golden/bpe/tiny_gpt2/tokenizer.json";

std::string nested(int depth, const std::string& inner = "1") {
  return std::string(static_cast<size_t>(depth), '[') + inner + std::string(static_cast<size_t>(depth), ']');
}

// The tiny HF model's config.json with `key` set to the JSON text `value` ("" removes the key).
std::string config_with(const std::string& key, const std::string& value) {
  nlohmann::json j = nlohmann::json::parse(test::read_file(kTinyHf / "config.json"));
  if (value.empty()) {
    j.erase(key);
    return j.dump();
  }
  std::string text = j.dump();
  j[key] = "@@VALUE@@";  // splice the raw text: it may be deeper than nlohmann would build
  text = j.dump();
  text.replace(text.find("\"@@VALUE@@\""), 11, value);
  return text;
}

// A safetensors file from a raw header text and data bytes.
std::string safetensors_bytes(const std::string& header, size_t data_bytes) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + std::string(data_bytes, '\0');
}

struct Case {
  std::string name;
  // Builds the hostile input in `dir` (a copy of the tiny HF model) and returns the path to load.
  std::function<fs::path(const fs::path& dir)> make;
  std::vector<std::string> expect;  // substrings of the message: the file, and the key or tensor
  bool tokenizer = false;           // load_tokenizer(path) instead of load_model(path)
};

void copy_tiny(const fs::path& dir) {
  fs::copy_file(kTinyHf / "config.json", dir / "config.json");
  fs::copy_file(kTinyHf / "model.safetensors", dir / "model.safetensors");
}

fs::path with_config(const fs::path& dir, const std::string& text) {
  test::write_file(dir / "config.json", text);
  return dir;
}

fs::path with_index(const fs::path& dir, const std::string& shard_json) {
  test::write_file(dir / "model.safetensors.index.json",
                   "{\"metadata\": {}, \"weight_map\": {\"model.norm.weight\": " + shard_json + "}}");
  return dir;
}

fs::path tokenizer_with(const fs::path& dir, const std::function<void(nlohmann::json&)>& edit,
                        const std::string& config_text = "") {
  nlohmann::json j = nlohmann::json::parse(test::read_file(kTinyBpe));
  edit(j);
  test::write_file(dir / "tokenizer.json", j.dump());
  if (!config_text.empty()) test::write_file(dir / "tokenizer_config.json", config_text);
  return dir / "tokenizer.json";
}

std::vector<Case> config_cases() {
  std::vector<Case> c;
  const auto bad_config = [&](std::string name, std::string key, std::string value,
                              std::vector<std::string> expect) {
    c.push_back({std::move(name),
                 [key, value](const fs::path& d) { return with_config(d, config_with(key, value)); },
                 std::move(expect)});
  };
  bad_config("config: 100000-deep value", "rope_scaling", nested(100000), {"config.json", "nested"});
  bad_config("config: 70-deep value", "sliding_window", nested(70), {"config.json", "nested"});
  bad_config("config: model_type a number", "model_type", "7", {"config.json", "model_type"});
  bad_config("config: model_type an object", "model_type", "{\"a\": [1, 2]}", {"config.json", "model_type"});
  bad_config("config: vocab_size a string", "vocab_size", "\"1024\"", {"config.json", "vocab_size"});
  bad_config("config: 2^30 layers", "num_hidden_layers", "1073741824", {"config.json", "num_hidden_layers"});
  bad_config("config: 2^40 layers", "num_hidden_layers", "1099511627776", {"config.json", "num_hidden_layers"});
  bad_config("config: 2^64-1 hidden size", "hidden_size", "18446744073709551615", {"config.json", "hidden_size"});
  bad_config("config: 2^30 vocab", "vocab_size", "1073741824", {"config.json", "vocab_size"});
  bad_config("config: 2^30 heads", "num_attention_heads", "1073741824", {"config.json", "num_attention_heads"});
  bad_config("config: eos past the vocabulary", "eos_token_id", "5000000", {"config.json", "eos_token_id"});
  bad_config("config: rope_theta 1e300", "rope_theta", "1e300", {"config.json", "rope_theta"});
  bad_config("config: rope_scaling type a number", "rope_scaling", "{\"rope_type\": 3, \"factor\": 2}",
             {"config.json", "rope_scaling"});
  bad_config("config: rope_scaling a string", "rope_scaling", "\"linear\"", {"config.json", "rope_scaling"});
  bad_config("config: llama3 original context 1e30", "rope_scaling",
             "{\"rope_type\": \"llama3\", \"factor\": 8, \"low_freq_factor\": 1, \"high_freq_factor\": 4, "
             "\"original_max_position_embeddings\": 1e30}",
             {"config.json", "original_max_position_embeddings"});
  bad_config("config: hidden_act an array", "hidden_act", "[\"silu\"]", {"config.json", "hidden_act"});
  bad_config("config: quantization bits a string", "quantization", "{\"group_size\": 64, \"bits\": \"4\"}",
             {"config.json", "quantization"});
  bad_config("config: quantization mode a number", "quantization", "{\"group_size\": 64, \"bits\": 4, \"mode\": 1}",
             {"config.json", "quantization"});
  bad_config("config: quantization group 2^40", "quantization",
             "{\"group_size\": 1099511627776, \"bits\": 4}", {"config.json", "quantization"});
  c.push_back({"config: top level an array", [](const fs::path& d) { return with_config(d, "[1, 2]"); },
               {"config.json"}});
  c.push_back({"config: truncated", [](const fs::path& d) { return with_config(d, "{\"model_type\": \"mis"); },
               {"config.json", "JSON"}});
  c.push_back({"config: empty", [](const fs::path& d) { return with_config(d, ""); }, {"config.json"}});
  return c;
}

std::vector<Case> file_type_cases() {
  std::vector<Case> c;
  c.push_back({"config.json is a FIFO", [](const fs::path& d) {
                 fs::remove(d / "config.json");
                 EXPECT_EQ(::mkfifo((d / "config.json").c_str(), 0600), 0);
                 return d;
               },
               {"config.json", "FIFO"}});
  c.push_back({"config.json is a directory", [](const fs::path& d) {
                 fs::remove(d / "config.json");
                 fs::create_directory(d / "config.json");
                 return d;
               },
               {"config.json", "directory"}});
  c.push_back({"config.json is a character device", [](const fs::path& d) {
                 fs::remove(d / "config.json");
                 fs::create_symlink("/dev/zero", d / "config.json");
                 return d;
               },
               {"config.json", "device"}});
  c.push_back({"model.safetensors is a FIFO", [](const fs::path& d) {
                 fs::remove(d / "model.safetensors");
                 EXPECT_EQ(::mkfifo((d / "model.safetensors").c_str(), 0600), 0);
                 return d;
               },
               {"model.safetensors", "FIFO"}});
  c.push_back({"shard is a FIFO", [](const fs::path& d) {
                 EXPECT_EQ(::mkfifo((d / "shard.safetensors").c_str(), 0600), 0);
                 return with_index(d, "\"shard.safetensors\"");
               },
               {"shard.safetensors", "FIFO"}});
  c.push_back({"tokenizer_config.json is a FIFO", [](const fs::path& d) {
                 const fs::path t = tokenizer_with(d, [](nlohmann::json&) {});
                 EXPECT_EQ(::mkfifo((d / "tokenizer_config.json").c_str(), 0600), 0);
                 return t;
               },
               {"tokenizer_config.json", "FIFO"}, true});
  c.push_back({"tokenizer.json is a directory", [](const fs::path& d) {
                 fs::create_directory(d / "tokenizer.json");
                 return d / "tokenizer.json";
               },
               {"tokenizer.json", "directory"}, true});
  c.push_back({"tokenizer.model is a FIFO", [](const fs::path& d) {
                 EXPECT_EQ(::mkfifo((d / "tokenizer.model").c_str(), 0600), 0);
                 return d / "tokenizer.model";
               },
               {"tokenizer.model", "FIFO"}, true});
  return c;
}

std::vector<Case> index_and_safetensors_cases() {
  std::vector<Case> c;
  for (const std::string shard : {"\"../mistral/model.safetensors\"", "\"/etc/passwd\"", "\"..\"", "\".\"",
                                  "\"sub/model.safetensors\"", "\"\"", "7", "null", "[\"a\"]"}) {
    c.push_back({"index names " + shard, [shard](const fs::path& d) { return with_index(d, shard); },
                 {"model.safetensors.index.json", "weight_map.model.norm.weight"}});
  }
  c.push_back({"index nested 100000 deep", [](const fs::path& d) {
                 test::write_file(d / "model.safetensors.index.json", nested(100000, "{}"));
                 return d;
               },
               {"model.safetensors.index.json", "nested"}});
  const auto bad_weights = [&](std::string name, std::string bytes, std::vector<std::string> expect) {
    c.push_back({std::move(name), [bytes](const fs::path& d) {
                   test::write_file(d / "model.safetensors", bytes);
                   return d;
                 },
                 std::move(expect)});
  };
  bad_weights("safetensors header length 2^63", std::string("\xff\xff\xff\xff\xff\xff\xff\x7f", 8) + "{}",
              {"model.safetensors", "header length"});
  bad_weights("safetensors header nested 100000 deep", safetensors_bytes(nested(100000, "{}"), 0),
              {"model.safetensors", "nested"});
  bad_weights("safetensors shape of 2^31 x 2^31 in 4 bytes",
              safetensors_bytes("{\"x\": {\"dtype\": \"F32\", \"shape\": [2147483647, 2147483647], "
                                "\"data_offsets\": [0, 4]}}",
                                4),
              {"model.safetensors", "'x'"});
  bad_weights("safetensors dtype a number",
              safetensors_bytes("{\"x\": {\"dtype\": 4, \"shape\": [1], \"data_offsets\": [0, 4]}}", 4),
              {"model.safetensors", "'x'"});
  bad_weights("safetensors offsets past the file",
              safetensors_bytes("{\"x\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 1099511627776]}}", 4),
              {"model.safetensors", "'x'"});
  c.push_back({"safetensors int32 norm weight", [](const fs::path& d) {
                 auto [weights, meta] = mx::load_safetensors((d / "model.safetensors").string());
                 weights.insert_or_assign("model.norm.weight", mx::astype(weights.at("model.norm.weight"), mx::int32));
                 mx::save_safetensors((d / "model.safetensors").string(), weights, meta);
                 return d;
               },
               {"model.safetensors", "'model.norm.weight' has dtype int32"}});
  return c;
}

std::vector<Case> tokenizer_cases() {
  std::vector<Case> c;
  const auto bad = [&](std::string name, std::function<void(nlohmann::json&)> edit, std::vector<std::string> expect,
                       std::string config = "") {
    c.push_back({std::move(name), [edit, config](const fs::path& d) { return tokenizer_with(d, edit, config); },
                 std::move(expect), true});
  };
  bad("tokenizer: two tokens with one id", [](nlohmann::json& j) { j["model"]["vocab"]["!"] = 4; },
      {"tokenizer.json", "model.vocab"});
  bad("tokenizer: one id of 2^24", [](nlohmann::json& j) { j["model"]["vocab"]["zz"] = 1 << 24; },
      {"tokenizer.json", "model.vocab.zz"});
  bad("tokenizer: id 2^63", [](nlohmann::json& j) { j["model"]["vocab"]["zz"] = 9223372036854775807LL; },
      {"tokenizer.json", "model.vocab.zz"});
  bad("tokenizer: id a string", [](nlohmann::json& j) { j["model"]["vocab"]["zz"] = "7"; },
      {"tokenizer.json", "model.vocab.zz"});
  bad("tokenizer: negative id", [](nlohmann::json& j) { j["model"]["vocab"]["zz"] = -1; },
      {"tokenizer.json", "model.vocab.zz"});
  bad("tokenizer: added token over another token's id",
      [](nlohmann::json& j) { j["added_tokens"][0]["id"] = 5; }, {"tokenizer.json", "added_tokens[0]"});
  bad("tokenizer: added token id twice", [](nlohmann::json& j) { j["added_tokens"][1]["id"] = 0; },
      {"tokenizer.json", "added_tokens[1]"});
  bad("tokenizer: added content a number", [](nlohmann::json& j) { j["added_tokens"][0]["content"] = 3; },
      {"tokenizer.json", "added_tokens[0]"});
  bad("tokenizer: pre_tokenizer type a number", [](nlohmann::json& j) { j["pre_tokenizer"]["type"] = 1; },
      {"tokenizer.json", "pre_tokenizer.type"});
  bad("tokenizer: merges an object", [](nlohmann::json& j) { j["model"]["merges"] = {{"a", 1}}; },
      {"tokenizer.json", "model.merges"});
  bad("tokenizer: ignore_merges a string", [](nlohmann::json& j) { j["model"]["ignore_merges"] = "no"; },
      {"tokenizer.json", "ignore_merges"});
  bad("tokenizer_config: bos_token a number", [](nlohmann::json&) {}, {"tokenizer_config.json", "bos_token"},
      "{\"bos_token\": 5}");
  bad("tokenizer_config: add_bos_token a string", [](nlohmann::json&) {},
      {"tokenizer_config.json", "add_bos_token"}, "{\"add_bos_token\": \"yes\"}");
  bad("tokenizer_config: chat_template a number", [](nlohmann::json&) {},
      {"tokenizer_config.json", "chat_template"}, "{\"chat_template\": 5}");
  bad("tokenizer_config: 100000 deep", [](nlohmann::json&) {}, {"tokenizer_config.json", "nested"},
      "{\"x\": " + nested(100000) + "}");
  // Found by fuzz/spm_fuzz.cpp: SentencePiece's trie throws (an uncaught exception) on an empty piece.
  c.push_back({"tokenizer.model with an empty piece", [](const fs::path& d) {
                 fs::copy_file(test::source_dir() / "tests/golden/hostile/spm_empty_piece.model", d / "tokenizer.model");
                 return d / "tokenizer.model";
               },
               {"tokenizer.model", "not a valid SentencePiece model"}, true});
  c.push_back({"tokenizer: 100000 deep", [](const fs::path& d) {
                 test::write_file(d / "tokenizer.json", "{\"model\": " + nested(100000) + "}");
                 return d / "tokenizer.json";
               },
               {"tokenizer.json", "nested"}, true});
  return c;
}

// A llama GGUF of one layer (hidden 256, so k-quant blocks fit) with every tensor F32 except those
// `type_of` names; `meta` edits the metadata.
fs::path tiny_gguf(const fs::path& dir, const std::function<GgmlType(const std::string&)>& type_of,
                   const std::function<void(GgufMetadata&)>& meta = {}) {
  const int h = 256, ff = 256, vocab = 32, heads = 2, kv = 1, hd = 128;
  GgufMetadata m = {{"general.architecture", GgufValue::string("llama")},
                    {"llama.context_length", GgufValue::u32(512)},
                    {"llama.embedding_length", GgufValue::u32(h)},
                    {"llama.block_count", GgufValue::u32(1)},
                    {"llama.feed_forward_length", GgufValue::u32(ff)},
                    {"llama.attention.head_count", GgufValue::u32(heads)},
                    {"llama.attention.head_count_kv", GgufValue::u32(kv)},
                    {"llama.attention.layer_norm_rms_epsilon", GgufValue::f32(1e-5f)}};
  if (meta) meta(m);
  const std::vector<std::pair<std::string, std::vector<int64_t>>> shapes = {
      {"token_embd.weight", {vocab, h}},      {"output_norm.weight", {h}},
      {"blk.0.attn_norm.weight", {h}},        {"blk.0.ffn_norm.weight", {h}},
      {"blk.0.attn_q.weight", {heads * hd, h}}, {"blk.0.attn_k.weight", {kv * hd, h}},
      {"blk.0.attn_v.weight", {kv * hd, h}},  {"blk.0.attn_output.weight", {h, heads * hd}},
      {"blk.0.ffn_gate.weight", {ff, h}},     {"blk.0.ffn_up.weight", {ff, h}},
      {"blk.0.ffn_down.weight", {h, ff}}};
  std::vector<std::vector<uint8_t>> storage;
  std::vector<GgufTensorOut> tensors;
  for (const auto& [name, shape] : shapes) {
    const GgmlType type = type_of(name);
    GgufTensorPlan plan{name, shape, static_cast<uint32_t>(type)};
    storage.emplace_back(planned_bytes(plan), uint8_t{0});
    tensors.push_back({name, shape, plan.type, {}});
  }
  for (size_t i = 0; i < tensors.size(); ++i) tensors[i].data = storage[i];
  save_gguf(dir / "m.gguf", m, tensors);
  return dir / "m.gguf";
}

std::vector<Case> gguf_cases() {
  std::vector<Case> c;
  // Types whose layout the header reader knows but no model loads (k-quants load since issue 35).
  for (const GgmlType k : {GgmlType::Q8_K, GgmlType::Q8_1, GgmlType::I8, GgmlType::I16, GgmlType::I32}) {
    const std::string type = ggml_type_name(static_cast<uint32_t>(k));
    c.push_back({"gguf: " + type + " attn_q", [k](const fs::path& d) {
                   return tiny_gguf(d, [k](const std::string& n) {
                     return n == "blk.0.attn_q.weight" ? k : GgmlType::F32;
                   });
                 },
                 {"m.gguf", "blk.0.attn_q.weight", type}});
  }
  c.push_back({"gguf: 2^30 blocks", [](const fs::path& d) {
                 return tiny_gguf(d, [](const std::string&) { return GgmlType::F32; },
                                  [](GgufMetadata& m) { m[3].second = GgufValue::u32(1u << 30); });
               },
               {"m.gguf", "llama.block_count"}});
  c.push_back({"gguf: 2^31 feed-forward", [](const fs::path& d) {
                 return tiny_gguf(d, [](const std::string&) { return GgmlType::F32; },
                                  [](GgufMetadata& m) { m[4].second = GgufValue::u32(1u << 31); });
               },
               {"m.gguf", "llama.feed_forward_length"}});
  c.push_back({"gguf: 3 blocks, tensors of 1", [](const fs::path& d) {
                 return tiny_gguf(d, [](const std::string&) { return GgmlType::F32; },
                                  [](GgufMetadata& m) { m[3].second = GgufValue::u32(3); });
               },
               {"m.gguf", "model.layers.1"}});
  return c;
}

void run_cases(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    test::TempDir dir;
    copy_tiny(dir.path());
    const fs::path path = c.make(dir.path());
    try {
      if (c.tokenizer) {
        (void)load_tokenizer(path);
      } else {
        (void)load_model(path, mx::float32);
      }
      ADD_FAILURE() << c.name << ": loaded without an error";
    } catch (const Error& e) {
      const std::string what = e.what();
      for (const std::string& want : c.expect) EXPECT_NE(what.find(want), std::string::npos) << what;
      EXPECT_LT(what.size(), 2000u) << "the message must not dump the file";
    } catch (const std::exception& e) {
      ADD_FAILURE() << c.name << ": not an mlxft::Error: " << e.what();
    }
  }
}

TEST(HostileFiles, ConfigJsonDeepWrongTypedOrHugeIsRefusedNamingTheKey) { run_cases(config_cases()); }
TEST(HostileFiles, NonRegularFilesAreRefusedUnopened) { run_cases(file_type_cases()); }
TEST(HostileFiles, ShardIndexAndSafetensorsAreRefusedBeforeAnyAllocation) {
  run_cases(index_and_safetensors_cases());
}
TEST(HostileFiles, TokenizerJsonAndItsConfigAreRefusedNamingTheirOwnFile) { run_cases(tokenizer_cases()); }
TEST(HostileFiles, GgufUnloadableTypesAndHugeCountsAreRefusedNamingFileTensorAndType) { run_cases(gguf_cases()); }

TEST(HostileFiles, TheCorpusIsLargeEnoughToMeanSomething) {
  const size_t n = config_cases().size() + file_type_cases().size() + index_and_safetensors_cases().size() +
                   tokenizer_cases().size() + gguf_cases().size();
  EXPECT_GE(n, 60u);
}

TEST(HostileFiles, AValidTinyModelAndTokenizerStillLoad) {  // the corpus' starting points are valid
  test::TempDir dir;
  copy_tiny(dir.path());
  EXPECT_NO_THROW((void)load_model(dir.path(), mx::float32));
  EXPECT_NO_THROW((void)load_tokenizer(tokenizer_with(dir.path(), [](nlohmann::json&) {})));
  EXPECT_NO_THROW((void)read_gguf(tiny_gguf(dir.path(), [](const std::string&) { return GgmlType::F32; })));
}

TEST(HostileFiles, JsonBriefNeverRecursesAndCutsLongStrings) {
  EXPECT_EQ(json_brief(nlohmann::json::parse("[1, 2]")), "[1,2]");
  EXPECT_EQ(json_brief(nlohmann::json::parse("[[1]]")), "an array of 1 values");
  EXPECT_EQ(json_brief(nlohmann::json::parse("{\"a\": {\"b\": 1}}")), "an object with 1 keys");
  EXPECT_EQ(json_brief(nlohmann::json(std::string(100, 'x'))), "\"" + std::string(40, 'x') + "\"...");
  EXPECT_EQ(json_nesting_depth("[\"[[[[\", {\"a\": [1]}]"), 3);
}

}  // namespace
}  // namespace mlxft
