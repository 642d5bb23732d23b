// config.json parsing: defaults and derived values, the presets' parameter
// counts, and a Config error naming the key for everything unsupported.
#include "mlxft/model/config.h"

#include <gtest/gtest.h>

#include "mlxft/model/init.h"
#include "mlxft/util/error.h"

namespace mlxft {
namespace {

using nlohmann::json;

json mistral_json() {
  return json::parse(R"({"architectures": ["MistralForCausalLM"], "bos_token_id": 1, "eos_token_id": 2,
    "hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 14336,
    "max_position_embeddings": 32768, "model_type": "mistral", "num_attention_heads": 32,
    "num_hidden_layers": 32, "num_key_value_heads": 8, "rms_norm_eps": 1e-05, "rope_theta": 1000000.0,
    "sliding_window": null, "tie_word_embeddings": false, "torch_dtype": "bfloat16", "vocab_size": 32768})");
}

// Expects a Config error whose location names `key` and the source file.
void expect_key_error(const json& j, const std::string& key) {
  try {
    ModelConfig::from_json(j, "dir/config.json");
    FAIL() << "accepted a config with bad " << key;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Config);
    EXPECT_NE(e.where().find(key), std::string::npos) << e.what();
    EXPECT_NE(e.where().find("dir/config.json"), std::string::npos) << e.what();
  }
}

TEST(ModelConfig, ReadsMistral7bV03AndCountsItsParameters) {
  const ModelConfig c = ModelConfig::from_json(mistral_json(), "config.json");
  EXPECT_EQ(c.head_dim, 128);  // absent -> hidden / heads
  EXPECT_EQ(c.num_key_value_heads, 8);
  EXPECT_FLOAT_EQ(c.rope_theta, 1e6f);
  EXPECT_FLOAT_EQ(c.rms_norm_eps, 1e-5f);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.parameter_count(), 7248023552LL);
}

TEST(ModelConfig, PresetsHaveTheAdvertisedShapes) {
  const ModelConfig mistral = preset_config("mistral-7b-shape", 32768);
  EXPECT_EQ(mistral.parameter_count(), 7248023552LL);
  EXPECT_EQ(ModelConfig::from_json(mistral.to_json(), "x").parameter_count(), 7248023552LL);
  const ModelConfig small = preset_config("small", 32768);
  EXPECT_NEAR(static_cast<double>(small.parameter_count()), 126e6, 2e6);
  const ModelConfig tiny = preset_config("tiny", 32768);
  EXPECT_EQ(tiny.hidden_size, 64);
  EXPECT_EQ(tiny.head_dim, 16);
  EXPECT_THROW(preset_config("huge", 32768), Error);
}

TEST(ModelConfig, ExplicitHeadDimAndLlamaRoundTrip) {
  json j = mistral_json();
  j["model_type"] = "llama";
  j["head_dim"] = 64;
  j["tie_word_embeddings"] = true;
  j["rope_scaling"] = nullptr;
  j["attention_bias"] = false;
  j["eos_token_id"] = json::array({128001, 128009});
  j["vocab_size"] = 128256;  // Llama 3's: bos/eos ids must lie inside the vocabulary
  const ModelConfig c = ModelConfig::from_json(j, "config.json");
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.eos_token_id, 128001);
  const ModelConfig back = ModelConfig::from_json(c.to_json(), "round trip");
  EXPECT_EQ(back.head_dim, 64);
  EXPECT_TRUE(back.tie_word_embeddings);
  EXPECT_EQ(back.model_type, "llama");
  EXPECT_EQ(c.to_json()["architectures"][0], "LlamaForCausalLM");
}

TEST(ModelConfig, RejectsUnsupportedKeysNamingThem) {
  auto with = [](const std::string& key, const json& value) {
    json j = mistral_json();
    j[key] = value;
    return j;
  };
  expect_key_error(with("model_type", "gpt2"), "model_type");
  expect_key_error(with("rope_scaling", json{{"type", "yarn"}, {"factor", 2.0}}), "rope_scaling");
  expect_key_error(with("attention_bias", true), "attention_bias");
  expect_key_error(with("mlp_bias", true), "mlp_bias");
  expect_key_error(with("sliding_window", 4096), "sliding_window");
  expect_key_error(with("hidden_act", "gelu"), "hidden_act");
  expect_key_error(with("num_key_value_heads", 5), "num_key_value_heads");
  expect_key_error(with("hidden_size", -1), "hidden_size");
  expect_key_error(with("rope_theta", "big"), "rope_theta");
  json missing = mistral_json();
  missing.erase("vocab_size");
  expect_key_error(missing, "vocab_size");
  // A sliding window as long as the context is plain causal attention: accepted.
  EXPECT_NO_THROW(ModelConfig::from_json(with("sliding_window", 32768), "config.json"));
}

}  // namespace
}  // namespace mlxft
