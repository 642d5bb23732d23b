// MLX-quantized (mlx-community) directories: written by write_quantized_model / `mlxft model
// quantize`, read back by load_model with the logits of the model quantized in memory.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "mlxft/formats/safetensors.h"
#include "mlxft/model/init.h"
#include "mlxft/model/llama.h"
#include "mlxft/model/quant_io.h"
#include "mlxft/model/source.h"
#include "mlxft/util/error.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
namespace mx = mlx::core;

namespace mlxft {
namespace {

// A tiny float Hugging Face directory (config.json, model.safetensors, a stand-in tokenizer.json).
fs::path write_tiny_float(const fs::path& dir) {
  fs::create_directories(dir);
  const ModelConfig c = preset_config("tiny", 256);
  test::write_file(dir / "config.json", c.to_json().dump(2));
  save_safetensors(dir / "model.safetensors", random_weights(c, 5, mx::float32));
  test::write_file(dir / "tokenizer.json", "{}");
  return dir;
}

mx::array logits_of(const Model& m) {
  return forward(m, mx::array({3, 17, 200, 9, 41, 5}, {1, 6}, mx::int32));
}

TEST(QuantizedDirectory, WrittenThenLoadedGivesTheLogitsOfTheModelQuantizedAtLoad) {
  test::TempDir tmp;
  const fs::path in = write_tiny_float(tmp / "float"), out = tmp / "q4";
  const QuantMap written = write_quantized_model(in, out, QuantSpec{4, 64}, mx::float32);
  EXPECT_EQ(written.size(), 16u);  // the embedding, lm_head and 2 x 7 projections

  const auto config = nlohmann::json::parse(test::read_file(out / "config.json"));
  EXPECT_EQ(config.at("quantization").at("bits"), 4);
  EXPECT_EQ(config.at("quantization").at("group_size"), 64);
  EXPECT_EQ(config.at("quantization"), config.at("quantization_config"));
  EXPECT_EQ(read_safetensors_header(out / "model.safetensors").metadata.at("format"), "mlx");
  EXPECT_TRUE(fs::exists(out / "tokenizer.json"));
  EXPECT_EQ(resolve_model_source(out).kind, ModelSourceKind::MlxQuantizedDirectory);

  const Model back = load_model(out, mx::float32);
  EXPECT_EQ(back.quantization, written);
  EXPECT_EQ(back.weight("model.layers.1.mlp.down_proj.weight").dtype(), mx::uint32);
  EXPECT_EQ(back.weight("model.layers.1.mlp.down_proj.weight").shape(), (mx::Shape{64, 128 * 4 / 32}));
  const Model at_load = load_model(in, mx::float32, QuantSpec{4, 64});
  EXPECT_TRUE(mx::array_equal(logits_of(back), logits_of(at_load)).item<bool>());
  // Quantization changes the logits (it is not a no-op), but not by much (4 bits of random weights).
  const mx::array diff = mx::abs(mx::subtract(logits_of(back), logits_of(load_model(in, mx::float32))));
  EXPECT_GT(mx::max(diff).item<float>(), 0.0f);
  EXPECT_LT(mx::max(diff).item<float>(), 0.5f);
}

TEST(QuantizedDirectory, PerModuleOverridesAndMissingTripletsAreReadOrNamed) {
  test::TempDir tmp;
  const fs::path in = write_tiny_float(tmp / "float"), out = tmp / "q8";
  write_quantized_model(in, out, QuantSpec{8, 32}, mx::float16);
  // An override the weights contradict: the loader names the tensor and both shapes.
  auto config = nlohmann::json::parse(test::read_file(out / "config.json"));
  config["quantization"]["model.layers.0.mlp.up_proj"] = {{"bits", 4}, {"group_size", 32}};
  test::write_file(out / "config.json", config.dump());
  try {
    load_model(out);
    FAIL() << "expected a Model error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'model.layers.0.mlp.up_proj.weight' has shape [128, 16]"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(write_quantized_model(out, tmp / "again", QuantSpec{4, 64}, mx::float16), Error);
  EXPECT_THROW(write_quantized_model(in, out, QuantSpec{4, 64}, mx::float16), Error);  // not empty
}

TEST(QuantizedDirectory, ModelInfoShowsBitsGroupSizeAndBytes) {
  test::TempDir tmp;
  const fs::path in = write_tiny_float(tmp / "float");
  const auto q = test::run_mlxft("model quantize --model '" + in.string() +
                                 "' --bits 4 --group-size 32 --out '" + (tmp / "q").string() + "'");
  ASSERT_EQ(q.exit_code, 0) << q.output;
  const auto info = test::run_mlxft("model info --model '" + (tmp / "q").string() + "'");
  ASSERT_EQ(info.exit_code, 0) << info.output;
  EXPECT_NE(info.output.find("MLX-quantized directory"), std::string::npos) << info.output;
  // mlp: 2 layers x 3 x 128 x 64 weights at 4 bits (24,576 bytes) + float16 scales and biases per 32.
  EXPECT_NE(info.output.find("mlp                 49,152      0.0 MB  4-bit g32"), std::string::npos)
      << info.output;
  EXPECT_NE(info.output.find("norms"), std::string::npos) << info.output;
}

// mlx-lm reads the directory `model quantize` writes and gets the same loss (to float32 rounding:
// 1e-5 relative). CI compares with mlx-lm's loss on this directory kept in
// tests/golden/mlx_lm_quantized/loss.json; when MLXFT_REF_PYTHON names a Python with mlx-lm
// (.venv-ref), mlx-lm also runs now (scripts/reference/mlx_lm_quantized_loss.py) and its output is
// printed, the way to remake the golden.
TEST(QuantizedDirectory, MlxLmLoadsItWithTheSameLoss) {
  test::TempDir tmp;
  const fs::path in = write_tiny_float(tmp / "float"), out = tmp / "q4";
  write_quantized_model(in, out, QuantSpec{4, 64}, mx::float16);
  const std::vector<int32_t> ids = {3, 17, 200, 9, 41, 5, 77, 128};

  std::vector<nlohmann::json> refs = {nlohmann::json::parse(
      test::read_file(test::source_dir() / "tests" / "golden" / "mlx_lm_quantized" / "loss.json"))};
  if (const char* python = std::getenv("MLXFT_REF_PYTHON")) {
    std::string list;
    for (int32_t id : ids) list += (list.empty() ? "" : ",") + std::to_string(id);
    const auto r = test::run_command(std::string(python) + " '" +
                                     (test::source_dir() / "scripts/reference/mlx_lm_quantized_loss.py").string() +
                                     "' '" + out.string() + "' " + list);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    refs.push_back(nlohmann::json::parse(r.output.substr(r.output.rfind('{'))));
    std::printf("mlx-lm now: %s\n", refs.back().dump().c_str());
  }

  const Model m = load_model(out, mx::float32);
  const mx::array all(ids.data(), {1, static_cast<int>(ids.size())}, mx::int32);
  const int n = static_cast<int>(ids.size()) - 1;
  const mx::array logits = forward(m, mx::slice(all, {0, 0}, {1, n}));
  const mx::array nll =
      mx::negative(mx::take_along_axis(mx::subtract(logits, mx::logsumexp(logits, -1, true)),
                                       mx::expand_dims(mx::slice(all, {0, 1}, {1, n + 1}), -1), -1));
  const float loss = mx::mean(nll).item<float>();
  for (const nlohmann::json& ref : refs) {
    EXPECT_EQ(ref.at("quantized_modules"), 16);
    EXPECT_EQ(ref.at("bits"), 4);
    EXPECT_EQ(ref.at("group_size"), 64);
    EXPECT_NEAR(loss, ref.at("loss").get<double>(), 1e-5 * std::abs(loss)) << ref.dump();
  }
}

}  // namespace
}  // namespace mlxft
