// Loading llama GGUF files made by hand with the writer: the config from the
// llama.* metadata, names, llama.cpp's Q/K row order undone (float and
// quantized), Q8_0/Q4_0/Q4_1/F16/F32 values against reference quantizers (k-quants:
// gguf_kquant_test.cpp),
// logits equal to the same model in HF layout, and a clear error for every
// unsupported architecture, key, tensor type, name and shape.
#include "mlxft/model/gguf_model.h"

#include <gtest/gtest.h>

#include <functional>

#include "formats/gguf_blocks.h"
#include "mlxft/formats/gguf_writer.h"
#include "mlxft/model/init.h"
#include "mlxft/model/rope.h"
#include "mlxft/model/weights.h"
#include "mlxft/util/error.h"
#include "support/test_support.h"

namespace mx = mlx::core;

namespace mlxft {
namespace {

using G = GgmlType;

ModelConfig tiny_llama(bool tied) {
  ModelConfig c =
      preset_config("tiny", 64);  // hidden 64, 2 layers, 4 heads, 2 KV heads, head_dim 16, MLP 128
  c.model_type = "llama";
  c.rope_theta = 10000.0f;
  c.rms_norm_eps = 1e-5f;
  c.max_position_embeddings = 512;
  c.tie_word_embeddings = tied;
  return c;
}

std::string gguf_name(const std::string& hf) {
  static const std::map<std::string, std::string> names = {
      {"input_layernorm", "attn_norm"},    {"self_attn.q_proj", "attn_q"},
      {"self_attn.k_proj", "attn_k"},      {"self_attn.v_proj", "attn_v"},
      {"self_attn.o_proj", "attn_output"}, {"post_attention_layernorm", "ffn_norm"},
      {"mlp.gate_proj", "ffn_gate"},       {"mlp.up_proj", "ffn_up"},
      {"mlp.down_proj", "ffn_down"}};
  if (hf == "model.embed_tokens.weight") return "token_embd.weight";
  if (hf == "model.norm.weight") return "output_norm.weight";
  if (hf == "lm_head.weight") return "output.weight";
  const size_t dot = hf.find('.', 13);  // after "model.layers.N"
  const std::string module = hf.substr(dot + 1, hf.size() - dot - 1 - 7);
  return "blk." + hf.substr(13, dot - 13) + "." + names.at(module) + ".weight";
}

GgufMetadata llama_metadata(const ModelConfig& c) {
  auto u32 = [](int v) { return GgufValue::u32(static_cast<uint32_t>(v)); };
  return {{"general.architecture", GgufValue::string("llama")},
          {"llama.context_length", u32(c.max_position_embeddings)},
          {"llama.embedding_length", u32(c.hidden_size)},
          {"llama.block_count", u32(c.num_hidden_layers)},
          {"llama.feed_forward_length", u32(c.intermediate_size)},
          {"llama.attention.head_count", u32(c.num_attention_heads)},
          {"llama.attention.head_count_kv", u32(c.num_key_value_heads)},
          {"llama.rope.freq_base", GgufValue::f32(c.rope_theta)},
          {"llama.attention.layer_norm_rms_epsilon", GgufValue::f32(c.rms_norm_eps)},
          {"llama.rope.dimension_count", u32(c.head_dim)},
          {"llama.vocab_size", u32(c.vocab_size)}};
}

std::vector<float> values_of(const mx::array& a) {
  const mx::array f = mx::astype(a, mx::float32);
  mx::eval(f);
  return {f.data<float>(), f.data<float>() + f.size()};
}

// A GGUF of `weights` (HF layout) with each tensor stored as `type_of(hf name)`, Q/K rows permuted as
// llama.cpp's converter does. `expected` receives the float weights (HF layout) the file holds.
struct Built {
  std::vector<std::vector<uint8_t>> storage;
  std::vector<GgufTensorOut> tensors;
  std::unordered_map<std::string, mx::array> expected;
};

Built build(const ModelConfig& c, const std::unordered_map<std::string, mx::array>& weights,
            const std::function<G(const std::string&)>& type_of) {
  Built b;
  b.storage.reserve(weights.size());
  for (const auto& [hf, shape] : expected_weights(c)) {
    const int heads = hf.ends_with("q_proj.weight")   ? c.num_attention_heads
                      : hf.ends_with("k_proj.weight") ? c.num_key_value_heads
                                                      : 0;
    const mx::array w = heads ? permute_qk_rows(weights.at(hf), heads) : weights.at(hf);
    const std::vector<float> v = values_of(w);
    const G type = shape.size() == 1 ? G::F32 : type_of(hf);
    std::vector<float> held = v;
    switch (type) {
      case G::F32: b.storage.push_back(test::f32_bytes(v)); break;
      case G::F16: b.storage.push_back(test::f16_bytes(v, held)); break;
      case G::Q8_0: {
        auto q = test::quantize_q8_0(v);
        b.storage.push_back(q.bytes);
        held = q.dequantized;
        break;
      }
      case G::Q4_0: {
        auto q = test::quantize_q4_0(v);
        b.storage.push_back(q.bytes);
        held = q.dequantized;
        break;
      }
      case G::Q4_1: {
        auto q = test::quantize_q4_1(v);
        b.storage.push_back(q.bytes);
        held = q.dequantized;
        break;
      }
      default: b.storage.push_back(std::vector<uint8_t>(v.size() / 32 * 22)); break;  // Q5_0-sized zeros
    }
    const mx::array held_array(held.data(), shape, mx::float32);
    b.expected.insert_or_assign(hf, heads ? unpermute_qk_rows(held_array, heads) : held_array);
    GgufTensorOut out;
    out.name = gguf_name(hf);
    out.shape.assign(shape.begin(), shape.end());
    out.type = static_cast<uint32_t>(type);
    out.data = std::span<const uint8_t>(b.storage.back().data(), b.storage.back().size());
    b.tensors.push_back(out);
  }
  return b;
}

std::unordered_map<std::string, mx::array> random_llama(const ModelConfig& c, uint64_t seed) {
  auto w = random_weights(c, seed, mx::float32);
  for (auto& [name, a] : w) {  // non-trivial norms, larger values so quantization is visible
    a = a.ndim() == 1 ? mx::add(mx::array(1.0f),
                                mx::random::normal(a.shape(), mx::float32, 0.0f, 0.1f, mx::random::key(seed)))
                      : mx::multiply(a, mx::array(5.0f));
  }
  return w;
}

float max_abs_diff(const mx::array& a, const mx::array& b) {
  return mx::max(mx::abs(mx::subtract(a, b))).item<float>();
}

TEST(GgufModel, QkPermutationRoundTripsAndMatchesTheConverterFormula) {
  const mx::array w = mx::reshape(mx::arange(0, 8 * 3, 1, mx::float32), {8, 3});  // 2 heads of head_dim 4
  const mx::array p = permute_qk_rows(w, 2);
  EXPECT_TRUE(mx::array_equal(unpermute_qk_rows(p, 2), w).item<bool>());
  // Within a head, llama.cpp row 2i + j is HF row j * head_dim / 2 + i: HF rows 0 2 1 3 | 4 6 5 7.
  const std::vector<int> hf_row = {0, 2, 1, 3, 4, 6, 5, 7};
  const std::vector<float> pv = values_of(p);
  for (int r = 0; r < 8; ++r)
    EXPECT_EQ(pv[static_cast<size_t>(r * 3)], static_cast<float>(hf_row[static_cast<size_t>(r)] * 3));
}

TEST(GgufModel, QuantizedAndFloatTensorsLoadWithTheirValuesInHfLayout) {
  const ModelConfig c = tiny_llama(/*tied=*/true);
  const auto weights = random_llama(c, 11);
  auto type_of = [](const std::string& hf) {
    if (hf.find("embed_tokens") != std::string::npos) return G::Q8_0;
    if (hf.find("q_proj") != std::string::npos || hf.find("gate_proj") != std::string::npos) return G::Q4_0;
    if (hf.find("k_proj") != std::string::npos || hf.find("down_proj") != std::string::npos) return G::Q4_1;
    if (hf.find("v_proj") != std::string::npos) return G::F16;
    return G::F32;
  };
  const Built b = build(c, weights, type_of);
  test::TempDir dir;
  save_gguf(dir / "m.gguf", llama_metadata(c), b.tensors);
  const GgufModel g = load_gguf_model(dir / "m.gguf");

  EXPECT_EQ(g.config.num_hidden_layers, 2);
  EXPECT_EQ(g.config.num_key_value_heads, 2);
  EXPECT_EQ(g.config.head_dim, 16);
  EXPECT_EQ(g.config.vocab_size, 64);
  EXPECT_TRUE(g.config.tie_word_embeddings);
  EXPECT_EQ(g.quantization.at("model.embed_tokens"), (QuantSpec{8, 32}));
  EXPECT_EQ(g.quantization.at("model.layers.1.self_attn.q_proj"), (QuantSpec{4, 32}));
  EXPECT_EQ(g.quantization.at("model.layers.0.mlp.down_proj"), (QuantSpec{4, 32}));
  EXPECT_FALSE(g.quantization.count("model.layers.0.self_attn.v_proj"));
  EXPECT_EQ(g.weights.at("model.layers.0.self_attn.q_proj.weight").dtype(), mx::uint32);
  EXPECT_EQ(g.weights.at("model.layers.0.self_attn.q_proj.scales").shape(), (mx::Shape{64, 2}));

  const Model m = gguf_float_model(g, mx::float32);
  for (const auto& [name, expected] : b.expected) {
    const mx::array& got = m.weight(name);
    ASSERT_EQ(got.shape(), expected.shape()) << name;
    const float bound = 1e-6f * mx::max(mx::abs(expected)).item<float>();
    EXPECT_LE(max_abs_diff(got, expected), bound) << name;
    // Quantization error is visible (the test would notice a float path), but bounded.
    EXPECT_LT(max_abs_diff(got, weights.at(name)), 0.25f * mx::max(mx::abs(weights.at(name))).item<float>())
        << name;
  }
}

TEST(GgufModel, F32GgufGivesTheSameLogitsAsTheHfModel) {
  const ModelConfig c = tiny_llama(/*tied=*/false);
  const auto weights = random_llama(c, 12);
  const Built b = build(c, weights, [](const std::string&) { return G::F32; });
  test::TempDir dir;
  save_gguf(dir / "m.gguf", llama_metadata(c), b.tensors);
  const Model from_gguf = gguf_float_model(load_gguf_model(dir / "m.gguf"), mx::float32);
  Model hf;
  hf.config = c;
  hf.weights = weights;
  const mx::array tokens = mx::random::randint(0, 64, {1, 9}, mx::int32, mx::random::key(5));
  const mx::array a = forward(hf, tokens), z = forward(from_gguf, tokens);
  EXPECT_LT(max_abs_diff(a, z), 1e-5f);
  EXPECT_GT(mx::max(mx::abs(a)).item<float>(), 0.1f);
}

// Writes a GGUF of the tiny model with `edit` applied to metadata and tensors; expects a Model error
// from load_gguf_model whose location names `where` and message contains `what`.
void expect_load_error(const std::function<void(GgufMetadata&, std::vector<GgufTensorOut>&)>& edit,
                       const std::string& where, const std::string& what) {
  const ModelConfig c = tiny_llama(true);
  Built b = build(c, random_llama(c, 13), [](const std::string& hf) {
    return hf.find("up_proj") != std::string::npos ? G::Q8_0 : G::F32;
  });
  GgufMetadata meta = llama_metadata(c);
  edit(meta, b.tensors);
  test::TempDir dir;
  save_gguf(dir / "m.gguf", meta, b.tensors);
  try {
    load_gguf_model(dir / "m.gguf");
    FAIL() << "loaded a GGUF expected to fail at " << where;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Model);
    EXPECT_NE(e.where().find("m.gguf"), std::string::npos) << e.what();
    EXPECT_NE(e.where().find(where), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

void set_key(GgufMetadata& meta, const std::string& key, GgufValue v) {
  for (auto& [k, value] : meta) {
    if (k == key) {
      value = std::move(v);
      return;
    }
  }
  meta.emplace_back(key, std::move(v));
}

TEST(GgufModel, UnsupportedOrInconsistentFilesNameTheKeyOrTensor) {
  using Meta = GgufMetadata;
  using Tensors = std::vector<GgufTensorOut>;
  expect_load_error([](Meta& m, Tensors&) { set_key(m, "general.architecture", GgufValue::string("gpt2")); },
                    "general.architecture", "'gpt2' is not supported");
  expect_load_error([](Meta& m, Tensors&) { m.erase(m.begin() + 3); }, "llama.block_count", "missing");
  expect_load_error([](Meta& m, Tensors&) { set_key(m, "llama.block_count", GgufValue::string("2")); },
                    "llama.block_count", "must be an integer");
  expect_load_error([](Meta& m, Tensors&) { set_key(m, "llama.attention.head_count_kv", GgufValue::u32(3)); },
                    "llama.attention.head_count_kv", "does not divide");
  expect_load_error([](Meta& m, Tensors&) { set_key(m, "llama.rope.dimension_count", GgufValue::u32(8)); },
                    "llama.rope.dimension_count", "partial");
  expect_load_error(
      [](Meta& m, Tensors&) { set_key(m, "llama.rope.scaling.type", GgufValue::string("yarn")); },
      "llama.rope.scaling.type", "'yarn' is not implemented");
  expect_load_error([](Meta& m, Tensors&) { set_key(m, "llama.feed_forward_length", GgufValue::u32(96)); },
                    "tensor 'blk.0.ffn_gate.weight'",
                    "has shape [128, 64], the llama.* metadata implies [96, 64]");
  expect_load_error([](Meta&, Tensors& t) { t[1].name = "blk.0.attn_rot_embd.weight"; },
                    "tensor 'blk.0.attn_rot_embd.weight'", "is not a tensor of a 2-layer llama model");
  expect_load_error([](Meta&, Tensors& t) { t[1].name = "blk.2.attn_norm.weight"; },
                    "tensor 'blk.2.attn_norm.weight'", "2-layer");
  expect_load_error([](Meta&, Tensors& t) { t.pop_back(); }, "m.gguf", "'model.norm.weight' is missing");
  expect_load_error([](Meta&, Tensors& t) { t.back().name = "rope_freqs.weight"; },
                    "tensor 'rope_freqs.weight'", "must be F32 of shape [8]");
  expect_load_error(
      [](Meta&, Tensors& t) {
        for (auto& x : t) {
          if (x.name == "blk.1.ffn_up.weight") {  // re-typed I8 (a type mlxft does not load), resized to fit
            x.type = static_cast<uint32_t>(G::I8);
            x.data = x.data.subspan(0, x.data.size() / 34 * 32);
          }
        }
      },
      "tensor 'blk.1.ffn_up.weight'", "has type I8, which mlxft cannot load");
}

// mlxft reads the tensors itself, so metadata MLX's GGUF reader crashed on (f64) or refused (empty
// arrays) no longer stops a model from loading.
TEST(GgufModel, F64AndEmptyArrayMetadataLoad) {
  const ModelConfig c = tiny_llama(true);
  Built b = build(c, random_llama(c, 16), [](const std::string&) { return G::Q8_0; });
  GgufMetadata meta = llama_metadata(c);
  set_key(meta, "general.some_f64", GgufValue::of(GgufValueType::F64, 1.0));
  set_key(meta, "tokenizer.ggml.merges", GgufValue::array_of(GgufValueType::String, {}));
  test::TempDir dir;
  save_gguf(dir / "m.gguf", meta, b.tensors);
  const GgufModel g = load_gguf_model(dir / "m.gguf");
  EXPECT_EQ(g.quantization.at("model.layers.0.mlp.up_proj"), (QuantSpec{8, 32}));
  EXPECT_EQ(g.header.find("general.some_f64")->type, GgufValueType::F64);
}

TEST(GgufModel, LinearRopeScalingKeysAreRead) {
  const ModelConfig c = tiny_llama(true);
  Built b = build(c, random_llama(c, 14), [](const std::string&) { return G::F32; });
  GgufMetadata meta = llama_metadata(c);
  set_key(meta, "llama.rope.scaling.type", GgufValue::string("linear"));
  set_key(meta, "llama.rope.scaling.factor", GgufValue::f32(4.0f));
  test::TempDir dir;
  save_gguf(dir / "m.gguf", meta, b.tensors);
  const ModelConfig got = gguf_model_config(read_gguf(dir / "m.gguf"));
  EXPECT_EQ(got.rope_scaling.type, "linear");
  EXPECT_DOUBLE_EQ(got.rope_scaling.factor, 4.0);
}

// llama.cpp's converter writes Llama 3's rope scaling as rope_freqs.weight (one divisor per inverse
// frequency); the loader turns it back into the llama3 rope type and refuses factors it cannot explain.
TEST(GgufModel, Llama3RopeFreqsBecomeTheLlama3RopeType) {
  ModelConfig c = tiny_llama(false);  // head_dim 16, theta 1e4: wavelengths 6 .. 19869, all three bands
  const auto weights = random_llama(c, 15);
  Built b = build(c, weights, [](const std::string&) { return G::F32; });
  ModelConfig scaled = c;
  scaled.rope_scaling = {"llama3", 8.0, 1.0, 4.0, 8192};
  const std::vector<double> plain = rope_inverse_frequencies(c), inv = rope_inverse_frequencies(scaled);
  std::vector<float> factors;
  for (size_t i = 0; i < plain.size(); ++i) factors.push_back(static_cast<float>(plain[i] / inv[i]));
  EXPECT_EQ(factors.front(), 1.0f);
  EXPECT_EQ(factors.back(), 8.0f);
  const std::vector<uint8_t> bytes = test::f32_bytes(factors);
  b.tensors.push_back({"rope_freqs.weight", {8}, static_cast<uint32_t>(G::F32), bytes});
  test::TempDir dir;
  save_gguf(dir / "m.gguf", llama_metadata(c), b.tensors);
  const Model from_gguf = gguf_float_model(load_gguf_model(dir / "m.gguf"), mx::float32);
  EXPECT_EQ(from_gguf.config.rope_scaling, scaled.rope_scaling);
  Model hf;
  hf.config = scaled;
  hf.weights = weights;
  const mx::array tokens = mx::random::randint(0, 64, {1, 12}, mx::int32, mx::random::key(6));
  EXPECT_LT(max_abs_diff(forward(hf, tokens), forward(from_gguf, tokens)), 1e-5f);

  const std::vector<uint8_t> wrong = test::f32_bytes(std::vector<float>(8, 2.0f));
  b.tensors.back().data = wrong;
  save_gguf(dir / "w.gguf", llama_metadata(c), b.tensors);
  try {
    load_gguf_model(dir / "w.gguf");
    FAIL() << "accepted rope factors that are not Llama 3's";
  } catch (const Error& e) {
    EXPECT_NE(e.where().find("rope_freqs.weight"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("is not what Llama 3's rope scaling"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace mlxft
