// config.json in the classic and the transformers 5 form, RoPE scaling keys,
// and the scaled inverse frequencies against values computed by hand from
// transformers' formulas (modeling_rope_utils.py).
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "mlxft/model/config.h"
#include "mlxft/model/rope.h"
#include "mlxft/util/error.h"

namespace mlxft {
namespace {

using nlohmann::json;

json llama_classic() {
  return json::parse(R"({"model_type": "llama", "vocab_size": 128, "hidden_size": 64,
    "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
    "max_position_embeddings": 2048, "rms_norm_eps": 1e-05, "rope_theta": 500000.0,
    "rope_scaling": null, "torch_dtype": "bfloat16", "tie_word_embeddings": true})");
}

// The same config as transformers 5 writes it.
json llama_v5() {
  json j = llama_classic();
  j.erase("rope_theta");
  j.erase("rope_scaling");
  j.erase("torch_dtype");
  j["rope_parameters"] = {{"rope_theta", 500000.0}, {"rope_type", "default"}};
  j["dtype"] = "bfloat16";
  return j;
}

json llama3_scaling() {
  return {{"rope_type", "llama3"},
          {"factor", 8.0},
          {"low_freq_factor", 1.0},
          {"high_freq_factor", 4.0},
          {"original_max_position_embeddings", 64}};
}

void expect_error_at(const json& j, const std::string& key) {
  try {
    ModelConfig::from_json(j, "m/config.json");
    FAIL() << "accepted " << j.dump();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Config);
    EXPECT_NE(e.where().find(key), std::string::npos) << e.what();
    EXPECT_NE(e.where().find("m/config.json"), std::string::npos) << e.what();
  }
}

TEST(ConfigForms, Transformers5FormReadsLikeTheClassicOne) {
  const ModelConfig classic = ModelConfig::from_json(llama_classic(), "a");
  const ModelConfig v5 = ModelConfig::from_json(llama_v5(), "b");
  EXPECT_FLOAT_EQ(v5.rope_theta, 500000.0f);  // the bug: it used to fall back to 10000
  EXPECT_FLOAT_EQ(classic.rope_theta, 500000.0f);
  EXPECT_EQ(v5.torch_dtype, "bfloat16");
  EXPECT_EQ(v5.rope_scaling.type, "default");
  EXPECT_EQ(classic.form, ConfigForm::Classic);
  EXPECT_EQ(v5.form, ConfigForm::Transformers5);
}

TEST(ConfigForms, ToJsonWritesTheFormItRead) {
  json in = llama_v5();
  in["rope_parameters"] = llama3_scaling();
  in["rope_parameters"]["rope_theta"] = 500000.0;
  const ModelConfig v5 = ModelConfig::from_json(in, "b");
  const json out = v5.to_json();
  EXPECT_FALSE(out.contains("rope_theta"));
  EXPECT_FALSE(out.contains("torch_dtype"));
  EXPECT_FALSE(out.contains("rope_scaling"));
  EXPECT_EQ(out["dtype"], "bfloat16");
  EXPECT_EQ(out["rope_parameters"]["rope_type"], "llama3");
  EXPECT_EQ(out["rope_parameters"]["original_max_position_embeddings"], 64);
  const ModelConfig back = ModelConfig::from_json(out, "round trip");
  EXPECT_EQ(back.rope_scaling, v5.rope_scaling);
  EXPECT_FLOAT_EQ(back.rope_theta, 500000.0f);

  json classic_in = llama_classic();
  classic_in["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  const json classic_out = ModelConfig::from_json(classic_in, "a").to_json();
  EXPECT_FALSE(classic_out.contains("rope_parameters"));
  EXPECT_FALSE(classic_out.contains("dtype"));
  EXPECT_EQ(classic_out["rope_scaling"]["rope_type"], "linear");
  EXPECT_EQ(classic_out["rope_scaling"]["factor"], 2.0);
  EXPECT_EQ(classic_out["torch_dtype"], "bfloat16");
}

TEST(ConfigForms, RejectsUnimplementedOrIncompleteRopeKeysNamingThem) {
  json v5 = llama_v5();
  v5["rope_parameters"]["rope_type"] = "yarn";
  expect_error_at(v5, "rope_parameters.rope_type");
  v5 = llama_v5();
  v5["rope_parameters"] = llama3_scaling();
  v5["rope_parameters"].erase("high_freq_factor");
  expect_error_at(v5, "rope_parameters.high_freq_factor");
  v5["rope_parameters"]["high_freq_factor"] = 0.5;  // below low_freq_factor: division by <= 0
  expect_error_at(v5, "rope_parameters.high_freq_factor");
  v5 = llama_v5();
  v5["rope_parameters"]["rope_theta"] = "big";
  expect_error_at(v5, "rope_parameters.rope_theta");
  v5 = llama_v5();
  v5["rope_parameters"]["partial_rotary_factor"] = 0.5;
  expect_error_at(v5, "rope_parameters.partial_rotary_factor");
  v5 = llama_v5();
  v5["rope_theta"] = 10000.0;  // both forms, disagreeing
  expect_error_at(v5, "rope_parameters.rope_theta");

  json classic = llama_classic();
  classic["rope_scaling"] = {{"rope_type", "dynamic"}, {"factor", 2.0}};
  expect_error_at(classic, "rope_scaling.rope_type");
  classic["rope_scaling"] = {{"type", "linear"}};
  expect_error_at(classic, "rope_scaling.factor");
  classic["rope_scaling"] = {{"factor", 2.0}};
  expect_error_at(classic, "rope_scaling.rope_type");
}

TEST(RopeFrequencies, DefaultAndLinearAndLlama3FollowTransformers) {
  ModelConfig c = ModelConfig::from_json(llama_classic(), "a");  // head_dim 16, theta 5e5
  const std::vector<double> plain = rope_inverse_frequencies(c);
  ASSERT_EQ(plain.size(), 8u);
  for (size_t i = 0; i < 8; ++i) EXPECT_NEAR(plain[i], std::pow(5e5, -2.0 * i / 16), 1e-15);

  c.rope_scaling = {"linear", 4.0};
  const std::vector<double> linear = rope_inverse_frequencies(c);
  for (size_t i = 0; i < 8; ++i) EXPECT_NEAR(linear[i], plain[i] / 4.0, 1e-15);

  // llama3 with original context 64, low/high factors 1/4: wavelengths below 16 are kept, above
  // 64 divided by 8, in between blended with s = (64 / wavelength - 1) / 3.
  c.rope_scaling = {"llama3", 8.0, 1.0, 4.0, 64};
  const std::vector<double> l3 = rope_inverse_frequencies(c);
  int kept = 0, scaled = 0, blended = 0;
  for (size_t i = 0; i < 8; ++i) {
    const double wavelen = 2 * std::numbers::pi / plain[i];
    double expected = plain[i] / 8.0;
    if (wavelen < 16) {
      expected = plain[i];
      ++kept;
    } else if (wavelen <= 64) {
      const double s = (64 / wavelen - 1) / 3;
      expected = (1 - s) * plain[i] / 8 + s * plain[i];
      ++blended;
    } else {
      ++scaled;
    }
    EXPECT_NEAR(l3[i], expected, 1e-15) << i;
  }
  EXPECT_GT(kept, 0);  // the test reaches all three branches
  EXPECT_GT(blended, 0);
  EXPECT_GT(scaled, 0);
}

// apply_rope with scaled frequencies rotates pair (i, i + D/2) at position t by t * inv_freq[i].
TEST(RopeFrequencies, ApplyRopeRotatesByTheScaledFrequencies) {
  namespace mx = mlx::core;
  ModelConfig c = ModelConfig::from_json(llama_classic(), "a");
  c.rope_scaling = {"llama3", 8.0, 1.0, 4.0, 64};
  const int D = c.head_dim, T = 5, offset = 3;
  const mx::array x = mx::random::normal({1, 1, T, D}, mx::float32, mx::random::key(1));
  const mx::array y = apply_rope(x, c, offset);
  const std::vector<double> inv = rope_inverse_frequencies(c);
  mx::eval(x, y);
  const float* xs = x.data<float>();
  const float* ys = y.data<float>();
  for (int t = 0; t < T; ++t) {
    for (int i = 0; i < D / 2; ++i) {
      const double angle = (t + offset) * inv[static_cast<size_t>(i)];
      const double a = xs[t * D + i], b = xs[t * D + i + D / 2];
      EXPECT_NEAR(ys[t * D + i], a * std::cos(angle) - b * std::sin(angle), 1e-5) << t << " " << i;
      EXPECT_NEAR(ys[t * D + i + D / 2], a * std::sin(angle) + b * std::cos(angle), 1e-5) << t << " " << i;
    }
  }
}

}  // namespace
}  // namespace mlxft
