// mlxft export gguf / gguf-lora for Qwen2, Qwen3 and Gemma 3 against what llama.cpp's own tools wrote and
// computed (tests/golden/gguf_export_families, from scripts/reference/export_check.py --families): the
// tiny random models' f32 GGUF holds exactly the tensors (names, shapes, every float32 byte) and the keys
// of convert_hf_to_gguf.py's file, the LoRA GGUF exactly those of convert_lora_to_gguf.py's, and the fused
// export computes the logits llama.cpp computed from it. Plus the conventions one at a time, so a broken
// one names itself: Gemma's norms stored as 1 + w, Qwen2's biases, no Q/K permutation outside llama,
// Gemma's layer pattern and local rope base, the Modelfile's chat format.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "export/export_test_util.h"
#include "mlxft/adapters/adapter_io.h"
#include "mlxft/export/gguf_export.h"
#include "mlxft/model/gguf_model.h"
#include "mlxft/model/llama.h"
#include "mlxft/model/weights.h"
#include "mlxft/util/hash.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
namespace mx = mlx::core;
using nlohmann::json;

namespace mlxft {
namespace {

fs::path golden(const std::string& family) {
  return test::source_dir() / "tests" / "golden" / "gguf_export_families" / family;
}

json converter(const std::string& family) {
  return json::parse(test::read_file(golden(family) / "converter.json"));
}

std::string tensor_bytes(const fs::path& file, const GgufTensorInfo& t) {
  std::string data(t.bytes, '\0');
  std::ifstream in(file, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(t.offset));
  in.read(data.data(), static_cast<std::streamsize>(t.bytes));
  return data;
}

mx::array tensor_f32(const fs::path& file, const GgufTensorInfo& t) {
  const std::string b = tensor_bytes(file, t);
  std::vector<float> v(b.size() / 4);
  std::memcpy(v.data(), b.data(), b.size());
  return mx::array(v.begin(), mx::Shape(t.shape.begin(), t.shape.end()));
}

// A metadata list as export_families.py hashes it: strings joined by "\n", numbers as bytes.
std::string list_hash(const GgufValue& v) {
  std::string data;
  for (size_t i = 0; i < v.array.size(); ++i) {
    const GgufScalar& x = v.array[i];
    if (const auto* s = std::get_if<std::string>(&x)) {
      data += (i ? "\n" : "") + *s;
    } else if (const auto* d = std::get_if<double>(&x)) {
      const float f = static_cast<float>(*d);
      data.append(reinterpret_cast<const char*>(&f), 4);
    } else if (const auto* b = std::get_if<bool>(&x)) {
      data.push_back(static_cast<char>(*b));
    } else {
      const int64_t n = std::holds_alternative<uint64_t>(x) ? static_cast<int64_t>(std::get<uint64_t>(x))
                                                            : std::get<int64_t>(x);
      data.append(reinterpret_cast<const char*>(&n), 8);
    }
  }
  return fnv1a64_hex(data);
}

// Every key and tensor of the converter's summary is in `file` with the same value / float32 bytes, and
// the file has no tensor the converter did not write.
void expect_as_converter(const fs::path& file, const json& want, const std::string& what) {
  const GgufFile f = read_gguf(file);
  for (const auto& [key, value] : want["keys"].items()) {
    const GgufValue* got = f.find(key);
    ASSERT_NE(got, nullptr) << what << ": key " << key << " missing";
    if (value.is_object() && key == "tokenizer.chat_template") {
      EXPECT_EQ(fnv1a64_hex(std::get<std::string>(got->scalar)), value["fnv1a64"]) << what << ": " << key;
    } else if (value.is_object()) {
      ASSERT_EQ(got->type, GgufValueType::Array) << what << ": " << key;
      EXPECT_EQ(got->array.size(), value["count"].get<size_t>()) << what << ": " << key;
      EXPECT_EQ(list_hash(*got), value["fnv1a64"]) << what << ": " << key;
    } else if (value.is_string()) {
      EXPECT_EQ(std::get<std::string>(got->scalar), value.get<std::string>()) << what << ": " << key;
    } else if (value.is_boolean()) {
      EXPECT_EQ(std::get<bool>(got->scalar), value.get<bool>()) << what << ": " << key;
    } else if (value.is_number_float()) {
      EXPECT_EQ(std::get<double>(got->scalar), value.get<double>()) << what << ": " << key;
    } else {
      EXPECT_EQ(std::get<uint64_t>(got->scalar), value.get<uint64_t>()) << what << ": " << key;
    }
  }
  for (const auto& [name, t] : want["tensors"].items()) {
    const GgufTensorInfo* got = f.tensor(name);
    ASSERT_NE(got, nullptr) << what << ": tensor " << name << " missing";
    EXPECT_EQ(got->shape, t["shape"].get<std::vector<int64_t>>()) << what << ": " << name;
    ASSERT_EQ(got->type, static_cast<uint32_t>(GgmlType::F32)) << what << ": " << name;
    EXPECT_EQ(fnv1a64_hex(tensor_bytes(file, *got)), t["fnv1a64"])
        << what << ": tensor " << name << "'s bytes";
  }
  for (const GgufTensorInfo& t : f.tensors)
    EXPECT_TRUE(want["tensors"].contains(t.name)) << what << ": " << t.name;
}

class GgufFamiliesExport : public testing::TestWithParam<std::string> {};

TEST_P(GgufFamiliesExport, ModelAndLoraAreWhatLlamaCppsConvertersWrite) {
  const std::string family = GetParam();
  test::TempDir tmp;
  const json want = converter(family);
  write_gguf_model({golden(family) / "base", {}, tmp / "base.gguf", GgmlType::F32, {}});
  expect_as_converter(tmp / "base.gguf", want["model"], family + " model");
  write_gguf_lora(
      {golden(family) / "base", golden(family) / "adapter", tmp / "lora.gguf", GgmlType::F32, {}});
  expect_as_converter(tmp / "lora.gguf", want["lora"], family + " LoRA");
}

// llama.cpp's logits of mlxft's fused f32 export (its GELU reads a float16 table: Gemma within 1e-3)
// equal mlxft's of the export read back and of base + adapter.
TEST_P(GgufFamiliesExport, FusedExportComputesWhatLlamaCppComputedFromIt) {
  const std::string family = GetParam();
  test::TempDir tmp;
  write_gguf_model(
      {golden(family) / "base", golden(family) / "adapter", tmp / "fused.gguf", GgmlType::F32, {}});
  const auto g = mx::load_safetensors((golden(family) / "llama_cpp.safetensors").string()).first;
  const mx::array ids = g.at("ids"), want = g.at("logits");
  const float tol = (family == "gemma3" ? 1e-3f : 2e-5f) * mx::max(mx::abs(want)).item<float>();
  EXPECT_LT(export_test::max_diff(forward(load_model(tmp / "fused.gguf", mx::float32), ids), want), tol);
  const LoraAdapters lora = load_adapter(golden(family) / "adapter");
  const Model base = load_model(golden(family) / "base", mx::float32);
  EXPECT_LT(export_test::max_diff(forward(base, ids, export_test::with(lora)), want), tol);
  EXPECT_GT(export_test::max_diff(forward(base, ids), want), 100 * tol);  // the adapter matters
}

// Mean next-token loss of `ids` under `logits`.
float mean_nll(const mx::array& logits, const mx::array& ids) {
  const int n = ids.shape(1);
  const mx::array lp = mx::slice(logits, {0, 0, 0}, {1, n - 1, logits.shape(2)});
  const mx::array logp = lp - mx::logsumexp(lp, -1, true);
  const mx::array next = mx::reshape(mx::slice(ids, {0, 1}, {1, n}), {1, n - 1, 1});
  return -mx::mean(mx::take_along_axis(logp, next, -1)).item<float>();
}

// F16 holds these weights exactly (the models' weights are float16 values); Q8_0 and Q4_0 move the
// mean per-token loss as little as llama.cpp measured on the same files (export_check.py --families:
// 0.1 % and 1.3-1.8 %).
TEST_P(GgufFamiliesExport, QuantizedTypesStayCloseAndTheModelfileHasTheFamilysChatFormat) {
  const std::string family = GetParam();
  test::TempDir tmp;
  const Model base = load_model(golden(family) / "base", mx::float32);
  const mx::array ids =
      mx::load_safetensors((golden(family) / "llama_cpp.safetensors").string()).first.at("ids");
  const mx::array want = forward(base, ids);
  const float want_nll = mean_nll(want, ids);
  for (const auto& [type, tol] :
       {std::pair{GgmlType::F16, 0.0f}, {GgmlType::Q8_0, 0.01f}, {GgmlType::Q4_0, 0.05f}}) {
    const std::string name = ggml_type_name(static_cast<uint32_t>(type));
    write_gguf_model({golden(family) / "base", {}, tmp / (name + ".gguf"), type, {}});
    const GgufFile f = read_gguf(tmp / (name + ".gguf"));
    EXPECT_EQ(f.tensor("blk.0.ffn_down.weight")->type, static_cast<uint32_t>(type)) << family << " " << name;
    EXPECT_EQ(f.tensor("blk.0.attn_norm.weight")->type, static_cast<uint32_t>(GgmlType::F32));
    const mx::array got = forward(load_model(tmp / (name + ".gguf"), mx::float32), ids);
    if (type == GgmlType::F16) {
      EXPECT_LT(export_test::max_diff(got, want), 1e-5f) << family;
    } else {
      const float rel = std::abs(mean_nll(got, ids) - want_nll) / want_nll;
      EXPECT_LT(rel, tol) << family << " " << name;
      EXPECT_GT(export_test::max_diff(got, want), 0.0f) << family << " " << name;  // it did quantize
    }
  }
  const std::string modelfile = test::read_file(tmp / "F16.Modelfile");
  const bool qwen = family != "gemma3";
  EXPECT_NE(modelfile.find(qwen ? "<|im_start|>assistant" : "<start_of_turn>model"), std::string::npos)
      << modelfile;
  EXPECT_NE(modelfile.find(qwen ? "PARAMETER stop \"<|im_end|>\"" : "PARAMETER stop \"<end_of_turn>\""),
            std::string::npos)
      << modelfile;
}

INSTANTIATE_TEST_SUITE_P(Families, GgufFamiliesExport, testing::Values("qwen2", "qwen3", "gemma3"));

// The conventions one by one, on the same tiny models.
struct Exported {
  test::TempDir tmp;
  fs::path file;
  std::unordered_map<std::string, mx::array> hf;
  GgufFile f;
  explicit Exported(const std::string& family, const fs::path& base = {}) : file(tmp / "m.gguf") {
    const fs::path dir = base.empty() ? golden(family) / "base" : base;
    write_gguf_model({dir, {}, file, GgmlType::F32, {}});
    hf = mx::load_safetensors((dir / "model.safetensors").string()).first;
    f = read_gguf(file);
  }
  mx::array gguf(const std::string& name) const { return tensor_f32(file, *f.tensor(name)); }
};

TEST(GgufFamiliesConventions, GemmaNormsAreStoredAsOnePlusWeight) {
  const Exported e("gemma3");
  for (const auto& [gguf, hf] : std::vector<std::pair<std::string, std::string>>{
           {"blk.1.attn_norm.weight", "model.layers.1.input_layernorm.weight"},
           {"blk.1.post_attention_norm.weight", "model.layers.1.post_attention_layernorm.weight"},
           {"blk.1.ffn_norm.weight", "model.layers.1.pre_feedforward_layernorm.weight"},
           {"blk.1.post_ffw_norm.weight", "model.layers.1.post_feedforward_layernorm.weight"},
           {"blk.1.attn_q_norm.weight", "model.layers.1.self_attn.q_norm.weight"},
           {"blk.1.attn_k_norm.weight", "model.layers.1.self_attn.k_norm.weight"},
           {"output_norm.weight", "model.norm.weight"}}) {
    ASSERT_TRUE(e.f.tensor(gguf)) << gguf;
    EXPECT_EQ(export_test::max_diff(e.gguf(gguf), mx::add(e.hf.at(hf), mx::array(1.0f))), 0.0f) << gguf;
  }
  EXPECT_EQ(e.f.tensor("output.weight"), nullptr);  // tied
  // Projections are not shifted, nor permuted.
  EXPECT_EQ(
      export_test::max_diff(e.gguf("blk.0.attn_q.weight"), e.hf.at("model.layers.0.self_attn.q_proj.weight")),
      0.0f);
}

TEST(GgufFamiliesConventions, QwenKeepsItsBiasesAndHfRowOrder) {
  const Exported e("qwen2");
  for (const char* p : {"q", "k", "v"}) {
    const std::string gguf = std::string("blk.1.attn_") + p + ".bias";
    ASSERT_TRUE(e.f.tensor(gguf)) << gguf;
    EXPECT_EQ(export_test::max_diff(e.gguf(gguf),
                                    e.hf.at(std::string("model.layers.1.self_attn.") + p + "_proj.bias")),
              0.0f);
  }
  EXPECT_EQ(e.f.tensor("blk.1.attn_output.bias"), nullptr);
  EXPECT_EQ(
      export_test::max_diff(e.gguf("blk.1.attn_k.weight"), e.hf.at("model.layers.1.self_attn.k_proj.weight")),
      0.0f);                                        // llama.cpp rotates Qwen NEOX-style: no permutation
  EXPECT_EQ(e.f.tensor("output.weight"), nullptr);  // tied
  const Exported q3("qwen3");
  EXPECT_EQ(std::get<uint64_t>(q3.f.find("qwen3.attention.key_length")->scalar), 32u);  // head_dim != 64 / 4
  EXPECT_TRUE(q3.f.tensor("output.weight"));                                            // untied
  EXPECT_EQ(export_test::max_diff(q3.gguf("blk.0.attn_q_norm.weight"),
                                  q3.hf.at("model.layers.0.self_attn.q_norm.weight")),
            0.0f);  // plain RMSNorm: no 1 +
}

// Gemma's layer pattern as llama.cpp reads it: its period when there is one (here 3: sliding, sliding,
// full), one bool a layer otherwise; mlxft reads both back to the same layers.
TEST(GgufFamiliesConventions, GemmaLayerPatternAndLocalRopeBaseRoundTrip) {
  const Exported e("gemma3");
  EXPECT_EQ(std::get<uint64_t>(e.f.find("gemma3.attention.sliding_window_pattern")->scalar), 3u);
  EXPECT_EQ(std::get<uint64_t>(e.f.find("gemma3.attention.sliding_window")->scalar), 5u);
  EXPECT_EQ(std::get<double>(e.f.find("gemma3.rope.freq_base_swa")->scalar), 1e4);
  EXPECT_EQ(std::get<double>(e.f.find("gemma3.rope.freq_base")->scalar), 1e6);
  test::TempDir tmp;
  fs::copy(golden("gemma3") / "base", tmp / "base");
  json cfg = json::parse(test::read_file(tmp / "base" / "config.json"));
  cfg["layer_types"] = {"full_attention", "sliding_attention", "sliding_attention"};
  test::write_file(tmp / "base" / "config.json", cfg.dump());
  const Exported irregular("gemma3", tmp / "base");
  const GgufValue* p = irregular.f.find("gemma3.attention.sliding_window_pattern");
  ASSERT_EQ(p->type, GgufValueType::Array);
  EXPECT_EQ(p->element_type, GgufValueType::Bool);
  EXPECT_EQ(p->array, (std::vector<GgufScalar>{false, true, true}));
  EXPECT_EQ(gguf_model_config(irregular.f).sliding_layers, (std::vector<bool>{false, true, true}));
  EXPECT_EQ(gguf_model_config(e.f).sliding_layers, (std::vector<bool>{true, true, false}));
}

// One name table serves reading and export: every tensor of every family maps there and back.
TEST(GgufFamiliesConventions, TensorNamesRoundTripThroughTheOneTable) {
  for (const char* family : {"qwen2", "qwen3", "gemma3"}) {
    const ModelConfig c = ModelConfig::from_file(golden(family) / "base" / "config.json");
    for (const auto& [hf, shape] : expected_weights(c)) {
      const std::string gguf = gguf_tensor_name(hf, c);
      ASSERT_FALSE(gguf.empty()) << family << " " << hf;
      EXPECT_EQ(gguf_hf_name(gguf, c), hf) << family << " " << gguf;
    }
  }
  const ModelConfig llama = ModelConfig::from_file(golden("qwen2") / "base" / "config.json");
  ModelConfig l = llama;
  l.model_type = "llama";
  EXPECT_EQ(gguf_hf_name("blk.0.post_attention_norm.weight", l), "");  // Gemma's name, not Llama's
  EXPECT_EQ(gguf_tensor_name("model.layers.0.post_attention_layernorm.weight", l), "blk.0.ffn_norm.weight");
}

}  // namespace
}  // namespace mlxft
