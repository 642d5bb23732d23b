// End to end through the mlxft binary: model init / info / generate on a tiny
// model, and the exit codes and messages of the user errors (overwrite,
// corrupt weights, missing tensor, unsupported config key).
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "mlxft/adapters/adapter_io.h"
#include "mlxft/model/config.h"
#include "mlxft/model/lora.h"
#include "support/test_support.h"

namespace fs = std::filesystem;

namespace mlxft {
namespace {

class ModelCli : public ::testing::Test {
 protected:
  void SetUp() override {
    MLXFT_REQUIRE_TOKENIZER();
    const auto r = test::init_tiny_model(model());
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  fs::path model() const { return tmp_ / "tiny"; }
  // A copy of the model whose files the test can damage.
  fs::path copy() const {
    const fs::path dst = tmp_ / "copy";
    fs::copy(model(), dst);
    return dst;
  }
  test::TempDir tmp_;
};

TEST_F(ModelCli, InitInfoAndGreedyGenerateAreDeterministic) {
  const auto info = test::run_mlxft("model info '" + model().string() + "'");
  ASSERT_EQ(info.exit_code, 0) << info.output;
  EXPECT_NE(info.output.find("MistralForCausalLM"), std::string::npos) << info.output;
  EXPECT_NE(info.output.find("total            4,268,352"), std::string::npos) << info.output;

  const std::string gen =
      "generate --model '" + model().string() + "' --prompt 'Hello there' --chat --max-tokens 12";
  const auto a = test::run_mlxft(gen);
  ASSERT_EQ(a.exit_code, 0) << a.output;
  EXPECT_NE(a.output.find("generation: 12 tokens"), std::string::npos) << a.output;
  EXPECT_NE(a.output.find("tokens/s"), std::string::npos) << a.output;
  EXPECT_EQ(test::run_mlxft(gen).output.substr(0, a.output.find("prompt:")),
            a.output.substr(0, a.output.find("prompt:")));

  const auto sampled = test::run_mlxft("generate --model '" + model().string() +
                                       "' --prompt Hi --temperature 0.9 --top-p 0.9 --seed 4 --max-tokens 5");
  EXPECT_EQ(sampled.exit_code, 0) << sampled.output;
}

TEST_F(ModelCli, GenerateAppliesALoraAdapter) {
  const ModelConfig config = ModelConfig::from_file(model() / "config.json");
  LoraConfig lc;
  lc.targets = {"q_proj", "v_proj", "down_proj"};
  LoraAdapters lora = init_lora(config, lc, 1);
  for (auto& [name, pair] : lora.modules) {
    pair.b =
        mlx::core::random::normal(pair.b.shape(), mlx::core::float32, 0.0f, 1.0f, mlx::core::random::key(2));
  }
  save_adapter_peft(lora, tmp_ / "adapter", model().string());
  const std::string gen =
      "generate --model '" + model().string() + "' --prompt 'Hello there' --max-tokens 12";
  const auto base = test::run_mlxft(gen);
  const auto adapted = test::run_mlxft(gen + " --adapter '" + (tmp_ / "adapter").string() + "'");
  ASSERT_EQ(adapted.exit_code, 0) << adapted.output;
  EXPECT_NE(adapted.output.substr(0, adapted.output.find("prompt:")),
            base.output.substr(0, base.output.find("prompt:")));

  // An adapter made for another shape is refused with the adapter named.
  LoraAdapters wrong = lora;
  wrong.modules.begin()->second.a = mlx::core::zeros({16, 32});
  save_adapter_peft(wrong, tmp_ / "wrong", model().string());
  const auto r = test::run_mlxft(gen + " --adapter '" + (tmp_ / "wrong").string() + "'");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("wrong"), std::string::npos) << r.output;
}

TEST_F(ModelCli, RefusesToOverwriteAModel) {
  const auto r = test::run_mlxft("model init --preset tiny --tokenizer '" + test::v3_tokenizer().string() +
                                 "' --out '" + model().string() + "'");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("not an empty directory"), std::string::npos) << r.output;
}

TEST_F(ModelCli, CorruptWeightsAreAModelErrorNotACrash) {
  const fs::path dir = copy();
  const fs::path weights = dir / "model.safetensors";
  fs::resize_file(weights, fs::file_size(weights) - 100);
  const auto r = test::run_mlxft("generate --model '" + dir.string() + "' --prompt Hi --max-tokens 2");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("model error"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("model.safetensors"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("internal error"), std::string::npos) << r.output;
}

TEST_F(ModelCli, ShapeMismatchAndUnsupportedKeyNameTheCulprit) {
  const fs::path dir = copy();
  auto config = nlohmann::json::parse(test::read_file(dir / "config.json"));
  config["intermediate_size"] = 96;
  test::write_file(dir / "config.json", config.dump());
  auto r = test::run_mlxft("model info '" + dir.string() + "'");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(
      r.output.find("'model.layers.0.mlp.up_proj.weight' has shape [128, 64], config.json implies [96, 64]"),
      std::string::npos)
      << r.output;

  config["intermediate_size"] = 128;
  config["rope_scaling"] = {{"type", "yarn"}, {"factor", 4.0}};
  test::write_file(dir / "config.json", config.dump());
  r = test::run_mlxft("generate --model '" + dir.string() + "' --prompt Hi");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("rope_scaling"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace mlxft
