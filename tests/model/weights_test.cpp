// Loading HF directories: single file and shards,
// and one clear Model error listing every missing / misshapen / unexpected
// tensor with its file and both shapes.
#include "mlxft/model/weights.h"

#include <gtest/gtest.h>

#include <fstream>

#include "mlxft/formats/safetensors.h"
#include "mlxft/model/init.h"
#include "mlxft/model/llama.h"
#include "mlxft/util/error.h"
#include "support/test_support.h"

namespace mx = mlx::core;
namespace fs = std::filesystem;

namespace mlxft {
namespace {

using Weights = std::unordered_map<std::string, mx::array>;

ModelConfig tiny() {
  return preset_config("tiny", 128);
}

void write_dir(const fs::path& dir, const ModelConfig& c, const Weights& w) {
  fs::create_directories(dir);
  test::write_file(dir / "config.json", c.to_json().dump());
  save_safetensors(dir / "model.safetensors", w);
}

// The message of the Model error load_weights throws.
std::string load_error(const fs::path& dir, const ModelConfig& c) {
  try {
    load_weights(dir, c);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Model);
    return e.what();
  }
  ADD_FAILURE() << "loaded a bad directory";
  return {};
}

TEST(Weights, ExpectedNamesFollowTheHfLayout) {
  ModelConfig c = tiny();
  EXPECT_EQ(expected_weights(c).size(), 1u + 2 * 9 + 1 + 1);
  c.tie_word_embeddings = true;
  for (const auto& [name, shape] : expected_weights(c)) EXPECT_NE(name, "lm_head.weight");
}

TEST(Weights, ReportsMissingMisshapenAndUnexpectedTensorsTogether) {
  test::TempDir tmp;
  const ModelConfig c = tiny();
  Weights w = random_weights(c, 1, mx::float32);
  w.erase("model.layers.1.mlp.up_proj.weight");
  w.insert_or_assign("model.layers.0.self_attn.k_proj.weight", mx::zeros({16, 64}));
  w.insert_or_assign("model.layers.0.self_attn.rotary_emb.inv_freq", mx::zeros({8}));
  write_dir(tmp.path(), c, w);
  const std::string msg = load_error(tmp.path(), c);
  EXPECT_NE(msg.find("3 weight problem(s)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'model.layers.1.mlp.up_proj.weight' [128, 64] is missing"), std::string::npos) << msg;
  EXPECT_NE(msg.find("model.safetensors: tensor 'model.layers.0.self_attn.k_proj.weight' has shape [16, 64], "
                     "config.json implies [32, 64]"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("unexpected tensor 'model.layers.0.self_attn.rotary_emb.inv_freq' [8]"),
            std::string::npos)
      << msg;
}

TEST(Weights, CapsTheListAtTenLines) {
  test::TempDir tmp;
  ModelConfig c = tiny();
  write_dir(tmp.path(), c, random_weights(c, 1, mx::float32));
  c.hidden_size = 32;  // every tensor but the attention ones now has the wrong shape
  const std::string msg = load_error(tmp.path(), c);
  EXPECT_NE(msg.find("... and"), std::string::npos) << msg;
  EXPECT_LE(std::count(msg.begin(), msg.end(), '\n'), 13);
}

TEST(Weights, TiedModelMustNotCarryAHead) {
  test::TempDir tmp;
  ModelConfig c = tiny();
  const Weights untied = random_weights(c, 1, mx::float32);
  c.tie_word_embeddings = true;
  write_dir(tmp.path(), c, untied);
  EXPECT_NE(load_error(tmp.path(), c).find("unexpected tensor 'lm_head.weight'"), std::string::npos);
}

TEST(Weights, NoWeightsAndBadIndexAreClearErrors) {
  test::TempDir tmp;
  EXPECT_NE(load_error(tmp.path(), tiny()).find("no model.safetensors"), std::string::npos);
  test::write_file(tmp / "consolidated.safetensors", "x");
  EXPECT_NE(load_error(tmp.path(), tiny()).find("no model.safetensors"), std::string::npos);
  test::write_file(tmp / "model.safetensors.index.json", R"({"weight_map": {"a": "../../etc/passwd"}})");
  EXPECT_NE(load_error(tmp.path(), tiny()).find("bare name"), std::string::npos);
  test::write_file(tmp / "model.safetensors.index.json",
                   R"({"weight_map": {"a": "model-00001-of-00002.safetensors"}})");
  EXPECT_NE(load_error(tmp.path(), tiny()).find("missing"), std::string::npos);
}

TEST(Weights, NeverReadsConsolidatedSafetensors) {
  test::TempDir tmp;
  const ModelConfig c = tiny();
  write_dir(tmp.path(), c, random_weights(c, 1, mx::float32));
  test::write_file(tmp / "consolidated.safetensors", "garbage that would fail the header check");
  EXPECT_EQ(load_weights(tmp.path(), c).size(), expected_weights(c).size());
}

TEST(Weights, ComputeDtypeDefaultsToFloat32OnCpuAndHonoursOverride) {
  test::TempDir tmp;
  const ModelConfig c = tiny();
  write_dir(tmp.path(), c, random_weights(c, 1, mx::bfloat16));
  EXPECT_EQ(load_weights(tmp.path(), c).at("model.norm.weight").dtype(), mx::bfloat16);  // stored dtype
  if (mx::default_device() == mx::Device::cpu) {
    EXPECT_EQ(load_model(tmp.path()).dtype, mx::float32);
  }
  const Model half = load_model(tmp.path(), mx::float16);
  EXPECT_EQ(half.weight("lm_head.weight").dtype(), mx::float16);
  EXPECT_EQ(parse_dtype("bfloat16", "--dtype"), mx::bfloat16);
  EXPECT_THROW(parse_dtype("int8", "--dtype"), Error);
}

}  // namespace
}  // namespace mlxft
