#include "mlxft/adapters/adapter_io.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "mlxft/model/config.h"
#include "mlxft/util/error.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
namespace mx = mlx::core;
using nlohmann::json;

namespace mlxft {
namespace {

ModelConfig tiny_model() {
  ModelConfig m;
  m.vocab_size = 256;
  m.hidden_size = 64;
  m.intermediate_size = 128;
  m.num_hidden_layers = 3;
  m.num_attention_heads = 4;
  m.num_key_value_heads = 2;
  m.head_dim = 16;
  return m;
}

// Adapters with non-zero B, so a transposition or swap of A and B would show.
LoraAdapters trained_adapters(const std::vector<std::string>& targets, const std::vector<int>& layers,
                              bool rslora = false, AdapterKind kind = AdapterKind::lora) {
  LoraConfig c;
  c.kind = kind;
  c.rank = 4;
  c.alpha = 8.0f;
  c.dropout = 0.05f;
  c.use_rslora = rslora;
  c.targets = targets;
  c.layers = layers;
  auto adapters = init_lora(tiny_model(), c, 7, [](const std::string& path) {
    const auto [in, out] = lora_projection_shape(tiny_model(), parse_module_path(path).target);
    return mx::random::normal({out, in}, mx::float32, mx::random::key(50));
  });
  int i = 0;
  for (auto& [path, pair] : adapters.modules) {
    pair.b = mx::random::normal(pair.b.shape(), mx::float32, mx::random::key(100 + i++));
    if (pair.magnitude) pair.magnitude = mx::random::uniform(1.0f, 2.0f, pair.magnitude->shape(), mx::float32, mx::random::key(200 + i));
  }
  return adapters;
}

void expect_same(const LoraAdapters& want, const LoraAdapters& got) {
  ASSERT_EQ(want.modules.size(), got.modules.size());
  for (const auto& [path, pair] : want.modules) {
    const LoraPair* other = got.find(path);
    ASSERT_NE(other, nullptr) << path;
    EXPECT_EQ(other->a.shape(), pair.a.shape()) << path;
    EXPECT_EQ(other->b.shape(), pair.b.shape()) << path;
    EXPECT_TRUE(mx::array_equal(other->a, pair.a).item<bool>()) << path;
    EXPECT_TRUE(mx::array_equal(other->b, pair.b).item<bool>()) << path;
    ASSERT_EQ(other->magnitude.has_value(), pair.magnitude.has_value()) << path;
    if (pair.magnitude) {
      EXPECT_TRUE(mx::array_equal(*other->magnitude, *pair.magnitude).item<bool>()) << path;
    }
  }
  EXPECT_EQ(got.config.kind, want.config.kind);
  EXPECT_EQ(got.config.rank, want.config.rank);
  EXPECT_FLOAT_EQ(got.config.scale(), want.config.scale());
  EXPECT_FLOAT_EQ(got.config.dropout, want.config.dropout);
  EXPECT_EQ(got.config.targets, want.config.targets);
  EXPECT_EQ(got.config.layers, want.config.layers);
}

json read_json(const fs::path& p) {
  return json::parse(test::read_file(p));
}

// Expects `fn` to throw a Model error whose message contains every string in `needles`.
template <typename Fn>
void expect_model_error(Fn fn, const std::vector<std::string>& needles) {
  try {
    fn();
    ADD_FAILURE() << "no error thrown";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Model) << e.what();
    for (const auto& n : needles) EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << e.what();
  }
}

TEST(AdapterIo, PeftRoundTripKeepsArraysAndConfig) {
  test::TempDir tmp;
  const auto adapters = trained_adapters({"q_proj", "v_proj", "o_proj", "down_proj"}, {0, 2});
  save_adapter_peft(adapters, tmp / "peft", "mistralai/Mistral-7B-Instruct-v0.3");
  EXPECT_EQ(detect_adapter_format(tmp / "peft"), AdapterFormat::Peft);
  expect_same(adapters, load_adapter(tmp / "peft"));
}

TEST(AdapterIo, PeftFilesUsePeftNamesShapesAndConfig) {
  test::TempDir tmp;
  const auto adapters = trained_adapters({"v_proj", "down_proj"}, {1});
  save_adapter_peft(adapters, tmp.path(), "base/model");

  const auto [tensors, meta] = mx::load_safetensors((tmp / "adapter_model.safetensors").string());
  EXPECT_EQ(meta.at("format"), "pt");
  ASSERT_EQ(tensors.size(), 4u);
  const auto& a = tensors.at("base_model.model.model.layers.1.mlp.down_proj.lora_A.weight");
  const auto& b = tensors.at("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight");
  EXPECT_EQ(a.shape(), (mx::Shape{4, 128}));
  EXPECT_EQ(b.shape(), (mx::Shape{64, 4}));
  EXPECT_EQ(a.dtype(), mx::float32);
  EXPECT_TRUE(mx::array_equal(b, adapters.find("model.layers.1.mlp.down_proj")->b).item<bool>());
  EXPECT_EQ(tensors.at("base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight").shape(),
            (mx::Shape{32, 4}));

  const json c = read_json(tmp / "adapter_config.json");
  EXPECT_EQ(c["peft_type"], "LORA");
  EXPECT_EQ(c["task_type"], "CAUSAL_LM");
  EXPECT_EQ(c["base_model_name_or_path"], "base/model");
  EXPECT_EQ(c["r"], 4);
  EXPECT_EQ(c["lora_alpha"], 8);
  EXPECT_NEAR(c["lora_dropout"].get<double>(), 0.05, 1e-7);
  EXPECT_EQ(c["target_modules"], json({"v_proj", "down_proj"}));
  EXPECT_EQ(c["layers_to_transform"], json({1}));
  EXPECT_EQ(c["bias"], "none");
  EXPECT_EQ(c["fan_in_fan_out"], false);
  EXPECT_EQ(c["use_rslora"], false);
  EXPECT_EQ(c["use_dora"], false);
  EXPECT_EQ(c["inference_mode"], true);
  // No temporary file is left behind.
  int files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(tmp.path())) ++files;
  EXPECT_EQ(files, 2);
}

TEST(AdapterIo, PeftWritesNullLayersWhenEveryLayerIsAdapted) {
  test::TempDir tmp;
  auto adapters = trained_adapters({"q_proj"}, {});
  adapters.config.layers.clear();  // "every layer", as a config with no layer list says
  save_adapter_peft(adapters, tmp.path(), "m");
  EXPECT_TRUE(read_json(tmp / "adapter_config.json")["layers_to_transform"].is_null());
}

TEST(AdapterIo, MlxRoundTripKeepsArraysAndScale) {
  test::TempDir tmp;
  const auto adapters =
      trained_adapters({"q_proj", "k_proj", "gate_proj", "up_proj"}, {1, 2}, /*rslora=*/true);
  save_adapter_mlx(adapters, tmp / "mlx", 3);
  EXPECT_EQ(detect_adapter_format(tmp / "mlx"), AdapterFormat::MlxLm);
  const auto loaded = load_adapter(tmp / "mlx");
  expect_same(adapters, loaded);
  EXPECT_FALSE(loaded.config.use_rslora);  // mlx-lm keeps only the resulting scale
}

TEST(AdapterIo, MlxFilesUseMlxNamesTransposedShapesAndConfig) {
  test::TempDir tmp;
  const auto adapters = trained_adapters({"q_proj", "down_proj"}, {1, 2});
  save_adapter_mlx(adapters, tmp.path(), 3);

  const auto tensors = mx::load_safetensors((tmp / "adapters.safetensors").string()).first;
  ASSERT_EQ(tensors.size(), 8u);
  const auto& a = tensors.at("model.layers.2.self_attn.q_proj.lora_a");
  const auto& b = tensors.at("model.layers.2.self_attn.q_proj.lora_b");
  EXPECT_EQ(a.shape(), (mx::Shape{64, 4}));
  EXPECT_EQ(b.shape(), (mx::Shape{4, 64}));
  EXPECT_EQ(tensors.at("model.layers.1.mlp.down_proj.lora_a").shape(), (mx::Shape{128, 4}));
  const auto& pair = *adapters.find("model.layers.2.self_attn.q_proj");
  EXPECT_TRUE(mx::array_equal(a, mx::transpose(pair.a)).item<bool>());
  EXPECT_TRUE(mx::array_equal(b, mx::transpose(pair.b)).item<bool>());

  const json c = read_json(tmp / "adapter_config.json");
  EXPECT_EQ(c["fine_tune_type"], "lora");
  EXPECT_EQ(c["num_layers"], 2);  // layers 1 and 2 are the last two of three
  EXPECT_EQ(c["lora_parameters"]["rank"], 4);
  EXPECT_FLOAT_EQ(c["lora_parameters"]["scale"].get<float>(), 2.0f);
  EXPECT_EQ(c["lora_parameters"]["keys"], json({"self_attn.q_proj", "mlp.down_proj"}));
}

TEST(AdapterIo, MlxNumLayersReachesBackToTheLowestAdaptedLayer) {
  test::TempDir tmp;
  // Layers 0 and 2 are not a suffix: mlx-lm must wrap all three layers; keys are still written.
  const auto adapters = trained_adapters({"v_proj"}, {0, 2});
  save_adapter_mlx(adapters, tmp.path(), 3);
  EXPECT_EQ(read_json(tmp / "adapter_config.json")["num_layers"], 3);
  expect_same(adapters, load_adapter(tmp.path()));
}

TEST(AdapterIo, MlxRejectsLayersBeyondTheModel) {
  test::TempDir tmp;
  expect_model_error([&] { save_adapter_mlx(trained_adapters({"v_proj"}, {2}), tmp.path(), 2); },
                     {"layer 2", "2 layers"});
  EXPECT_FALSE(fs::exists(tmp / "adapters.safetensors"));
}

TEST(AdapterIo, DetectionFailsOnMissingOrEmptyDirectory) {
  test::TempDir tmp;
  expect_model_error([&] { load_adapter(tmp / "nope"); }, {"nope", "does not exist"});
  expect_model_error([&] { load_adapter(tmp.path()); },
                     {"adapter_model.safetensors", "adapters.safetensors"});
}

TEST(AdapterIo, MissingConfigIsAModelErrorNamingTheFile) {
  test::TempDir tmp;
  save_adapter_peft(trained_adapters({"q_proj"}, {0}), tmp.path(), "m");
  fs::remove(tmp / "adapter_config.json");
  expect_model_error([&] { load_adapter(tmp.path()); }, {"adapter_config.json"});
}

TEST(AdapterIo, InvalidConfigValuesAreModelErrors) {
  test::TempDir tmp;
  save_adapter_peft(trained_adapters({"q_proj"}, {0}), tmp.path(), "m");
  const fs::path cfg = tmp / "adapter_config.json";
  const json good = read_json(cfg);

  test::write_file(cfg, "{ not json");
  expect_model_error([&] { load_adapter(tmp.path()); }, {"adapter_config.json", "not valid JSON"});

  json j = good;
  j.erase("r");
  test::write_file(cfg, j.dump());
  expect_model_error([&] { load_adapter(tmp.path()); }, {"'r' is missing"});

  j = good;
  j["r"] = "four";
  test::write_file(cfg, j.dump());
  expect_model_error([&] { load_adapter(tmp.path()); }, {"'r' has the wrong type"});

  j = good;
  j["use_dora"] = true;  // a DoRA config over LoRA tensors: the magnitudes are missing
  test::write_file(cfg, j.dump());
  expect_model_error([&] { load_adapter(tmp.path()); },
                     {"adapter_model.safetensors", "q_proj.lora_magnitude_vector", "missing"});

  j = good;
  j["peft_type"] = "IA3";
  test::write_file(cfg, j.dump());
  expect_model_error([&] { load_adapter(tmp.path()); }, {"IA3"});

  j = good;
  j["r"] = 8;  // the tensors have rank 4
  test::write_file(cfg, j.dump());
  expect_model_error([&] { load_adapter(tmp.path()); },
                     {"adapter_model.safetensors", "lora_A.weight", "[4, 64]", "rank 8"});
}

template <typename Edit>
void edit_weights(const fs::path& file, Edit edit);

TEST(AdapterIo, MlxConfigOfAnotherFineTuneTypeIsRejected) {
  test::TempDir tmp;
  save_adapter_mlx(trained_adapters({"q_proj"}, {2}), tmp.path(), 3);
  json j = read_json(tmp / "adapter_config.json");
  j["fine_tune_type"] = "full";
  test::write_file(tmp / "adapter_config.json", j.dump());
  expect_model_error([&] { load_adapter(tmp.path()); }, {"'full'", "LoRA and DoRA"});
  j["fine_tune_type"] = "dora";  // DoRA over LoRA tensors: the magnitudes are missing
  test::write_file(tmp / "adapter_config.json", j.dump());
  expect_model_error([&] { load_adapter(tmp.path()); }, {"q_proj.m'", "missing"});
}

// DoRA in both formats: PEFT 0.21's names (the magnitude without ".weight") and use_dora, mlx-lm's
// fine_tune_type dora and "m"; both round trips keep every array; a magnitude of the wrong length
// is an error naming the tensor.
TEST(AdapterIo, DoraRoundTripsInBothFormatsWithTheirNames) {
  test::TempDir tmp;
  const auto adapters = trained_adapters({"q_proj", "down_proj"}, {1, 2}, false, AdapterKind::dora);
  save_adapter_peft(adapters, tmp / "peft", "base/model");
  save_adapter_mlx(adapters, tmp / "mlx", 3);
  expect_same(adapters, load_adapter(tmp / "peft"));
  expect_same(adapters, load_adapter(tmp / "mlx"));

  const auto peft = mx::load_safetensors((tmp / "peft" / "adapter_model.safetensors").string()).first;
  EXPECT_EQ(peft.size(), 12u);
  const auto& m = peft.at("base_model.model.model.layers.1.mlp.down_proj.lora_magnitude_vector");
  EXPECT_EQ(m.shape(), (mx::Shape{64}));
  EXPECT_TRUE(mx::array_equal(m, *adapters.find("model.layers.1.mlp.down_proj")->magnitude).item<bool>());
  EXPECT_EQ(read_json(tmp / "peft" / "adapter_config.json")["use_dora"], true);

  const auto mlx = mx::load_safetensors((tmp / "mlx" / "adapters.safetensors").string()).first;
  EXPECT_EQ(mlx.size(), 12u);
  EXPECT_EQ(mlx.at("model.layers.2.self_attn.q_proj.m").shape(), (mx::Shape{64}));
  EXPECT_EQ(read_json(tmp / "mlx" / "adapter_config.json")["fine_tune_type"], "dora");

  edit_weights(tmp / "peft" / "adapter_model.safetensors", [](auto& tensors) {
    tensors.insert_or_assign("base_model.model.model.layers.1.mlp.down_proj.lora_magnitude_vector",
                             mx::ones({63}));
  });
  expect_model_error([&] { load_adapter(tmp / "peft"); }, {"down_proj.lora_magnitude_vector", "[63]", "[64]"});
}

// Rewrites the weights file of the adapter in `dir` after `edit` changed its tensors.
template <typename Edit>
void edit_weights(const fs::path& file, Edit edit) {
  auto tensors = mx::load_safetensors(file.string()).first;
  edit(tensors);
  mx::save_safetensors(file.string(), tensors);
}

TEST(AdapterIo, MlxLmFileWithNullMetadataLoads) {
  // mlx-lm saves with mx.save_safetensors and no metadata, which writes "__metadata__": null.
  test::TempDir tmp;
  const auto adapters = trained_adapters({"q_proj"}, {1, 2});
  save_adapter_mlx(adapters, tmp.path(), 3);
  edit_weights(tmp / "adapters.safetensors", [](auto&) {});
  EXPECT_NE(test::read_file(tmp / "adapters.safetensors").find(R"("__metadata__":null)"), std::string::npos);
  expect_same(adapters, load_adapter(tmp.path()));
}

TEST(AdapterIo, WrongShapeNamesFileAndTensor) {
  test::TempDir tmp;
  save_adapter_peft(trained_adapters({"q_proj", "v_proj"}, {0, 1}), tmp.path(), "m");
  const auto file = tmp / "adapter_model.safetensors";
  edit_weights(file, [](auto& t) {
    t.insert_or_assign("base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight", mx::zeros({32, 5}));
  });
  expect_model_error([&] { load_adapter(tmp.path()); },
                     {"adapter_model.safetensors", "layers.1.self_attn.v_proj.lora_B.weight", "[32, 5]"});
}

TEST(AdapterIo, InconsistentShapesAcrossLayersAreRejected) {
  test::TempDir tmp;
  save_adapter_mlx(trained_adapters({"q_proj"}, {1, 2}), tmp.path(), 3);
  edit_weights(tmp / "adapters.safetensors", [](auto& t) {
    t.insert_or_assign("model.layers.2.self_attn.q_proj.lora_a", mx::zeros({48, 4}));
  });
  expect_model_error([&] { load_adapter(tmp.path()); }, {"model.layers.2.self_attn.q_proj", "(48, 64)"});
}

TEST(AdapterIo, UnknownKeyIsRejected) {
  test::TempDir tmp;
  const auto file = tmp / "adapter_model.safetensors";
  for (const std::string bad :
       {"base_model.model.lm_head.lora_A.weight", "base_model.model.model.layers.0.mlp.q_proj.lora_A.weight",
        "base_model.model.model.layers.0.self_attn.query_key_value.lora_A.weight"}) {
    SCOPED_TRACE(bad);
    save_adapter_peft(trained_adapters({"q_proj"}, {0}), tmp.path(), "m");
    edit_weights(file, [&](auto& t) { t.insert_or_assign(bad, mx::zeros({4, 64})); });
    expect_model_error([&] { load_adapter(tmp.path()); },
                       {"adapter_model.safetensors", "unexpected tensor", bad});
  }
}

TEST(AdapterIo, MissingHalfOfAPairIsRejected) {
  test::TempDir tmp;
  save_adapter_mlx(trained_adapters({"q_proj"}, {2}), tmp.path(), 3);
  edit_weights(tmp / "adapters.safetensors",
               [](auto& t) { t.erase("model.layers.2.self_attn.q_proj.lora_b"); });
  expect_model_error([&] { load_adapter(tmp.path()); },
                     {"adapters.safetensors", "model.layers.2.self_attn.q_proj.lora_b", "missing"});
}

TEST(AdapterIo, DamagedWeightsFileIsAModelError) {
  test::TempDir tmp;
  save_adapter_peft(trained_adapters({"q_proj"}, {0}), tmp.path(), "m");
  const auto file = tmp / "adapter_model.safetensors";
  const std::string bytes = test::read_file(file);
  test::write_file(file, bytes.substr(0, bytes.size() - 100));  // data cut short
  expect_model_error([&] { load_adapter(tmp.path()); }, {"adapter_model.safetensors"});
  test::write_file(file, "garbage");
  expect_model_error([&] { load_adapter(tmp.path()); }, {"adapter_model.safetensors"});
}

TEST(AdapterIo, CheckFitsNamesLayerAndShapeMismatches) {
  const auto adapters = trained_adapters({"q_proj", "down_proj"}, {2});
  EXPECT_NO_THROW(check_adapter_fits(adapters, tiny_model(), "dir"));
  ModelConfig fewer = tiny_model();
  fewer.num_hidden_layers = 2;
  expect_model_error([&] { check_adapter_fits(adapters, fewer, "dir"); }, {"dir", "layer 2", "2 layers"});
  ModelConfig wider = tiny_model();
  wider.intermediate_size = 256;
  expect_model_error([&] { check_adapter_fits(adapters, wider, "dir"); },
                     {"model.layers.2.mlp.down_proj", "128 -> 64", "256 -> 64"});
}

// The directory is published as a unit: saving again replaces all of it, and a failed save
// leaves the adapter that was there.
TEST(AdapterIo, SavingReplacesTheWholeDirectoryAndAFailedSaveKeepsTheOldOne) {
  test::TempDir tmp;
  const fs::path dir = tmp / "adapter";
  save_adapter_mlx(trained_adapters({"q_proj"}, {2}), dir, 3);
  test::write_file(dir / "stale.txt", "left over");
  const auto adapters = trained_adapters({"v_proj"}, {1});
  save_adapter_peft(adapters, dir, "m");
  EXPECT_FALSE(fs::exists(dir / "stale.txt"));
  EXPECT_FALSE(fs::exists(dir / "adapters.safetensors"));
  expect_same(adapters, load_adapter(dir));

  EXPECT_THROW(save_adapter_mlx(trained_adapters({"v_proj"}, {2}), dir, 2), Error);  // layer 2 of 2
  expect_same(adapters, load_adapter(dir));
  int entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(tmp.path())) ++entries;
  EXPECT_EQ(entries, 1);  // no staging directory left behind
}

}  // namespace
}  // namespace mlxft
