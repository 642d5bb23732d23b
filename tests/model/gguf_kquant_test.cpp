// GGUF tensors read by mlxft itself: every type's arrays (MLX triplet or float) against ggml's values
// (ggml_dequant_test.cpp proves those equal gguf-py's), the float16-scale rounding the float32 scales
// avoid, a llama GGUF of k-quant and Q5 tensors loading with those values, its logits and QLoRA
// gradients equal to its dequantized float twin, and truncated or odd-shaped files refused.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <numeric>

#include "formats/gguf_blocks.h"
#include "mlxft/formats/ggml_dequant.h"
#include "mlxft/formats/gguf_writer.h"
#include "mlxft/model/gguf_model.h"
#include "mlxft/model/gguf_tensors.h"
#include "mlxft/model/init.h"
#include "mlxft/model/lora.h"
#include "mlxft/model/memory.h"
#include "mlxft/model/weights.h"
#include "mlxft/objective/loss.h"
#include "mlxft/util/error.h"
#include "support/test_support.h"

namespace mx = mlx::core;

namespace mlxft {
namespace {

using G = GgmlType;

float max_abs_diff(const mx::array& a, const mx::array& b) {
  return mx::max(mx::abs(mx::subtract(a, b))).item<float>();
}

GgufTensorInfo info(G type, std::vector<int64_t> shape) {
  GgufTensorInfo t;
  t.name = "blk.0.ffn_up.weight";
  t.shape = std::move(shape);
  t.type = static_cast<uint32_t>(type);
  return t;
}

mx::array ggml_values(G type, const std::vector<uint8_t>& bytes, const mx::Shape& shape) {
  std::vector<float> v(static_cast<size_t>(std::accumulate(shape.begin(), shape.end(), 1, std::multiplies<>())));
  ggml_dequantize(static_cast<uint32_t>(type), bytes, v, "test");
  return mx::array(v.data(), shape, mx::float32);
}

TEST(GgufTensors, AffineTypesBecomeMlxTripletsWithGgmlsValues) {
  GgufFile f;
  f.source = "m.gguf";
  for (G type : {G::Q4_0, G::Q4_1, G::Q5_0, G::Q5_1, G::Q8_0, G::Q4_K, G::Q5_K}) {
    const GgufTensorInfo t = info(type, {6, 512});
    const std::vector<uint8_t> bytes = test::random_blocks(t.type, 6 * 512, 1 + t.type, 1e-3f, 1e-2f);
    const GgufTensorArrays a = gguf_tensor_arrays(f, t, bytes);
    ASSERT_TRUE(a.spec) << ggml_type_name(t.type);
    const int bits = ggml_affine_bits(t.type);
    EXPECT_EQ(*a.spec, (QuantSpec{bits, 32}));
    EXPECT_EQ(a.weight.shape(), (mx::Shape{6, 512 * bits / 32}));
    EXPECT_EQ(a.scales->shape(), (mx::Shape{6, 16}));
    // Legacy types' scales and biases are float16 in the file; a k-quant's d * sc is not.
    const bool kquant = type == G::Q4_K || type == G::Q5_K;
    EXPECT_EQ(a.scales->dtype(), kquant ? mx::float32 : mx::float16) << ggml_type_name(t.type);
    const mx::array dense = mx::dequantize(a.weight, mx::astype(*a.scales, mx::float32),
                                           mx::astype(*a.biases, mx::float32), 32, bits);
    const mx::array want = ggml_values(type, bytes, {6, 512});
    EXPECT_TRUE(mx::array_equal(dense, want).item<bool>()) << ggml_type_name(t.type);
    EXPECT_TRUE(mx::array_equal(gguf_tensor_float(f, t, bytes), want).item<bool>());
    EXPECT_GT(mx::max(mx::abs(want)).item<float>(), 0.0f);
  }
}

// Where rounding would enter: k-quant scales and biases held as float16 (what MLX's own GGUF reader
// and mlx-community files use) instead of float32. Measured on random Q4_K/Q5_K blocks with scales
// d, dmin of magnitude 1e-3..1e-2: the largest error is about 2^-11 of the largest |value| (half a
// float16 ulp of d * sc times q, plus the bias's); float32 scales make it 0.
TEST(GgufTensors, Float16KQuantScalesWouldRoundTheValues) {
  GgufFile f;
  f.source = "m.gguf";
  for (G type : {G::Q4_K, G::Q5_K}) {
    const GgufTensorInfo t = info(type, {64, 256});
    const std::vector<uint8_t> bytes = test::random_blocks(t.type, 64 * 256, 9, 1e-3f, 1e-2f);
    const GgufTensorArrays a = gguf_tensor_arrays(f, t, bytes);
    const int bits = a.spec->bits;
    const mx::array want = ggml_values(type, bytes, {64, 256});
    const auto f16 = [](const mx::array& x) { return mx::astype(mx::astype(x, mx::float16), mx::float32); };
    const mx::array rounded = mx::dequantize(a.weight, f16(*a.scales), f16(*a.biases), 32, bits);
    const float err = max_abs_diff(rounded, want), top = mx::max(mx::abs(want)).item<float>();
    std::cout << ggml_type_name(t.type) << ": float16 scales/biases: max |error| " << err << " of max |value| "
              << top << " (" << err / top << ")\n";
    EXPECT_GT(err, 0.0f);
    EXPECT_LT(err, 2e-3f * top);
    EXPECT_EQ(max_abs_diff(mx::dequantize(a.weight, *a.scales, *a.biases, 32, bits), want), 0.0f);
  }
}

// The scales' dtype follows from whether each is a float16 exactly: the bit test against a float16
// round trip on every finite float16 value, its float32 neighbours, and values beyond its range.
TEST(GgufTensors, TheFloat16ExactnessTestAgreesWithARoundTrip) {
  int exact = 0, inexact = 0;
  for (uint32_t h = 0; h < 0x10000; ++h) {
    mx::float16_t x;
    const auto bits = static_cast<uint16_t>(h);
    std::memcpy(&x, &bits, 2);
    const float v = static_cast<float>(x);
    if (std::isnan(v)) continue;
    for (float m : {v, std::nextafter(v, 1e30f), std::nextafter(v, -1e30f), v * 70000.0f, v * 1e-9f}) {
      const float one[1] = {m};
      const bool want = static_cast<float>(mx::float16_t(m)) == m;
      ASSERT_EQ(exactly_float16(one), want) << m << " (float16 pattern " << h << ")";
      (want ? exact : inexact) += 1;
    }
  }
  const float nan[1] = {std::nanf("")};
  EXPECT_FALSE(exactly_float16(nan));
  EXPECT_GT(exact, 60000);
  EXPECT_GT(inexact, 100000);
}

TEST(GgufTensors, SixteenElementSubBlocksBecomeFloat32AndBadSizesAreRefused) {
  GgufFile f;
  f.source = "m.gguf";
  for (G type : {G::Q2_K, G::Q3_K, G::Q6_K}) {
    const GgufTensorInfo t = info(type, {3, 256});
    const std::vector<uint8_t> bytes = test::random_blocks(t.type, 3 * 256, 4);
    const GgufTensorArrays a = gguf_tensor_arrays(f, t, bytes);
    EXPECT_FALSE(a.spec);
    EXPECT_EQ(a.weight.dtype(), mx::float32);
    EXPECT_TRUE(mx::array_equal(a.weight, ggml_values(type, bytes, {3, 256})).item<bool>());
    EXPECT_EQ(gguf_loaded_storage(t.type), "float32");
  }
  EXPECT_EQ(gguf_loaded_storage(static_cast<uint32_t>(G::Q5_K)), "5-bit g32");
  EXPECT_EQ(gguf_loaded_storage(static_cast<uint32_t>(G::IQ4_XS)), "not loadable");
  const GgufTensorInfo t = info(G::Q4_K, {2, 256});
  std::vector<uint8_t> bytes = test::random_blocks(t.type, 512, 5);
  bytes.resize(bytes.size() - 1);
  try {
    gguf_tensor_arrays(f, t, bytes);
    FAIL() << "read a short tensor";
  } catch (const Error& e) {
    EXPECT_EQ(e.where(), "m.gguf: tensor 'blk.0.ffn_up.weight'");
    EXPECT_NE(std::string(e.what()).find("has 287 bytes of data, its type and shape need 288"), std::string::npos)
        << e.what();
  }
  const GgufTensorInfo odd = info(G::Q4_K, {2, 128});  // a hand-made header: row not a multiple of 256
  try {
    gguf_tensor_arrays(f, odd, std::vector<uint8_t>(144));
    FAIL() << "read a Q4_K tensor of 128-element rows";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("row length 128 is not a multiple of Q4_K's block of 256"),
              std::string::npos)
        << e.what();
  }
}

// A llama model wide enough for 256-element blocks: hidden 256, 2 layers, 4 heads of 64, 2 KV heads,
// MLP 512, vocab 64, untied head.
ModelConfig wide_llama() {
  ModelConfig c = preset_config("tiny", 64);
  c.model_type = "llama";
  c.hidden_size = 256;
  c.intermediate_size = 512;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 64;
  c.num_hidden_layers = 2;
  c.rope_theta = 10000.0f;
  c.rms_norm_eps = 1e-5f;
  c.max_position_embeddings = 256;
  c.tie_word_embeddings = false;
  return c;
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

// What a Q4_K_M-like file mixes: the type of each HF tensor.
G type_of(const std::string& hf) {
  const std::vector<std::pair<std::string, G>> types = {
      {"embed_tokens", G::Q6_K}, {"q_proj", G::Q4_K},    {"k_proj", G::Q5_K},  {"v_proj", G::Q6_K},
      {"o_proj", G::Q5_0},       {"gate_proj", G::Q5_1}, {"up_proj", G::Q3_K}, {"down_proj", G::Q2_K},
      {"lm_head", G::Q4_K}};
  for (const auto& [part, type] : types)
    if (hf.find(part) != std::string::npos) return type;
  return G::F32;
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
  const size_t dot = hf.find('.', 13);
  return "blk." + hf.substr(13, dot - 13) + "." + names.at(hf.substr(dot + 1, hf.size() - dot - 8)) + ".weight";
}

struct KQuantFile {
  std::vector<std::vector<uint8_t>> storage;
  std::vector<GgufTensorOut> tensors;
  std::unordered_map<std::string, mx::array> expected;  // ggml's values, HF layout
};

KQuantFile kquant_file(const ModelConfig& c) {
  KQuantFile k;
  const auto shapes = expected_weights(c);
  k.storage.reserve(shapes.size());
  uint32_t seed = 1;
  for (const auto& [hf, shape] : shapes) {
    const G type = shape.size() == 1 ? G::F32 : type_of(hf);
    const size_t n = static_cast<size_t>(std::accumulate(shape.begin(), shape.end(), 1, std::multiplies<>()));
    if (type == G::F32) {
      std::vector<float> ones(n);
      for (size_t i = 0; i < n; ++i) ones[i] = 1.0f + 0.01f * static_cast<float>(i % 7);
      k.storage.push_back(test::f32_bytes(ones));
    } else {
      // Scales chosen so every type's values are of order 0.05 (Q2_K's q is 0..3, Q6_K's |q| up to 32).
      const float hi = type == G::Q6_K ? 2e-5f : type == G::Q2_K || type == G::Q3_K ? 3e-4f : 1e-4f;
      k.storage.push_back(test::random_blocks(static_cast<uint32_t>(type), n, seed++, hi / 4, hi));
    }
    mx::array values = ggml_values(type, k.storage.back(), shape);
    const int heads = hf.ends_with("q_proj.weight")   ? c.num_attention_heads
                      : hf.ends_with("k_proj.weight") ? c.num_key_value_heads
                                                      : 0;
    k.expected.insert_or_assign(hf, heads ? unpermute_qk_rows(values, heads) : values);
    k.tensors.push_back({gguf_name(hf), std::vector<int64_t>(shape.begin(), shape.end()),
                         static_cast<uint32_t>(type), k.storage.back()});
  }
  return k;
}

TEST(GgufKQuants, AQ4KMStyleFileLoadsWithGgmlsValuesAndTrainsAsAQuantizedBase) {
  const ModelConfig c = wide_llama();
  const KQuantFile k = kquant_file(c);
  test::TempDir dir;
  save_gguf(dir / "m.gguf", llama_metadata(c), k.tensors);
  const GgufModel g = load_gguf_model(dir / "m.gguf");
  EXPECT_EQ(g.quantization.at("model.layers.0.self_attn.q_proj"), (QuantSpec{4, 32}));  // Q4_K
  EXPECT_EQ(g.quantization.at("model.layers.1.self_attn.k_proj"), (QuantSpec{5, 32}));  // Q5_K
  EXPECT_EQ(g.quantization.at("model.layers.0.self_attn.o_proj"), (QuantSpec{5, 32}));  // Q5_0
  EXPECT_EQ(g.quantization.at("model.layers.0.mlp.gate_proj"), (QuantSpec{5, 32}));     // Q5_1
  EXPECT_EQ(g.quantization.at("lm_head"), (QuantSpec{4, 32}));                          // Q4_K
  EXPECT_EQ(g.quantization.size(), 2u * 4 + 1);
  EXPECT_EQ(g.weights.at("model.layers.0.self_attn.v_proj.weight").dtype(), mx::float32);  // Q6_K
  EXPECT_EQ(g.weights.at("model.layers.0.self_attn.q_proj.scales").dtype(), mx::float32);
  EXPECT_EQ(g.weights.at("model.layers.0.self_attn.o_proj.scales").dtype(), mx::float16);

  const auto info = test::run_mlxft("model info '" + (dir / "m.gguf").string() + "'");
  ASSERT_EQ(info.exit_code, 0) << info.output;
  for (const char* storage : {"Q4_K as 4-bit g32", "Q5_K as 5-bit g32", "Q6_K as float32", "Q5_0 as 5-bit g32",
                              "Q2_K as float32", "F32 as float32"}) {
    EXPECT_NE(info.output.find(storage), std::string::npos) << info.output;
  }

  const Model twin = gguf_float_model(g, mx::float32);  // every value as ggml dequantizes it
  for (const auto& [name, want] : k.expected) {
    EXPECT_TRUE(mx::array_equal(twin.weight(name), want).item<bool>()) << name;
  }

  Model quantized;
  quantized.config = g.config;
  quantized.weights = g.weights;
  quantized.quantization = g.quantization;
  for (auto& [name, w] : quantized.weights) {
    if (w.dtype() == mx::float16 && !name.ends_with(".scales") && !name.ends_with(".biases"))
      w = mx::astype(w, mx::float32);
  }
  // Logits through the quantized base (CPU kernels for 4 bits, MLX's ops for 5) equal the float twin's.
  const mx::array tokens = mx::random::randint(0, 64, {2, 9}, mx::int32, mx::random::key(3));
  const mx::array a = forward(quantized, tokens), b = forward(twin, tokens);
  EXPECT_GT(mx::max(mx::abs(b)).item<float>(), 1e-2f);
  EXPECT_LT(max_abs_diff(a, b), 1e-4f * mx::max(mx::abs(b)).item<float>());

  // QLoRA: the adapters' gradients through the quantized base equal those through the twin.
  LoraConfig lc;
  lc.rank = 4;
  lc.targets = {"q_proj", "k_proj", "o_proj", "v_proj"};
  LoraAdapters adapters = init_lora(c, lc, 9, [&](const std::string& module) {
    return twin.weight(module + ".weight");
  });
  int seed = 30;
  for (auto& [path, pair] : adapters.modules)
    pair.b = mx::multiply(mx::array(0.05f), mx::random::normal(pair.b.shape(), mx::float32, mx::random::key(seed++)));
  const mx::array targets = mx::random::randint(0, 64, {2, 9}, mx::int32, mx::random::key(4));
  const mx::array mask = mx::ones({2, 9}, mx::float32);
  auto grads_through = [&](const Model& m) {
    LoraAdapters work = adapters;
    auto loss = [&](const std::vector<mx::array>& params) {
      work.assign(params);
      ForwardOptions o;
      o.lora = &work;
      const LossSum s = masked_cross_entropy(forward(m, tokens, o), targets, mask);
      return std::vector<mx::array>{mx::divide(s.nll_sum, s.tokens)};
    };
    const auto params = adapters.flatten();
    std::vector<int> argnums(params.size());
    std::iota(argnums.begin(), argnums.end(), 0);
    return mx::value_and_grad(loss, argnums)(params).second;
  };
  const auto gq = grads_through(quantized), gf = grads_through(twin);
  ASSERT_EQ(gq.size(), gf.size());
  for (size_t i = 0; i < gq.size(); ++i) {
    const float scale = mx::max(mx::abs(gf[i])).item<float>();
    EXPECT_GT(scale, 0.0f) << "gradient " << i;
    EXPECT_LE(max_abs_diff(gq[i], gf[i]), 1e-4f * scale) << "gradient " << i;
  }

  // The memory estimate counts what the model holds: packed words, float32 scales, the Q6_K floats.
  const auto qb = quantized_base(quantized);
  ASSERT_TRUE(qb);
  double held = 0;
  for (const auto& [name, w] : quantized.weights) held += static_cast<double>(w.nbytes());
  EXPECT_EQ(qb->stored, held);
  EXPECT_EQ(qb->largest_matrix_params, 512.0 * 256);  // the Q5_1 gate projections
  // 5-bit modules run on MLX's ops, which keep their float weights for the backward: k_proj (Q5_K),
  // o_proj (Q5_0) and gate_proj (Q5_1) of each layer, in float32.
  const double five_bit_layer = (128.0 * 256 + 256.0 * 256 + 512.0 * 256) * 4;
  EXPECT_EQ(qb->off_kernel_all_layers, 2 * five_bit_layer);
  EXPECT_EQ(qb->off_kernel_largest_layer, five_bit_layer);
}

// Writes the file, then applies `edit` to its bytes; expects read or load to fail naming `where`/`what`.
void expect_refused(const std::function<void(std::string&)>& edit, const std::string& where,
                    const std::string& what) {
  const ModelConfig c = wide_llama();
  const KQuantFile k = kquant_file(c);
  test::TempDir dir;
  std::string bytes = gguf_bytes(llama_metadata(c), k.tensors);
  edit(bytes);
  std::ofstream(dir / "m.gguf", std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  try {
    load_gguf_model(dir / "m.gguf");
    FAIL() << "loaded a file expected to fail with " << what;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Model);
    EXPECT_NE(e.where().find("m.gguf"), std::string::npos) << e.what();
    EXPECT_NE(e.where().find(where), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

TEST(GgufKQuants, TruncatedOrOddShapedFilesAreRefusedNamingTheTensor) {
  expect_refused([](std::string& b) { b.resize(b.size() - 100); }, "'output.weight'",
                 "past the end of the file");
  // blk.0.attn_q.weight re-typed from Q4_K to Q4_K with 128-element rows: ne[0] 256 -> 128, ne[1] doubled.
  expect_refused(
      [](std::string& b) {
        const size_t name = b.find("blk.0.attn_q.weight");
        const size_t ne0 = name + 19 + 4;  // after the name and n_dims
        b[ne0] = static_cast<char>(128);
        b[ne0 + 1] = 0;
        b[ne0 + 8] = static_cast<char>(512 & 0xFF);
        b[ne0 + 9] = static_cast<char>(512 >> 8);
      },
      "'blk.0.attn_q.weight'", "row length 128 is not a multiple of Q4_K's block of 256");
}

TEST(GgufKQuants, AFileThatShrankAfterItsHeaderWasReadIsRefused) {
  const ModelConfig c = wide_llama();
  const KQuantFile k = kquant_file(c);
  test::TempDir dir;
  save_gguf(dir / "m.gguf", llama_metadata(c), k.tensors);
  const GgufFile header = read_gguf(dir / "m.gguf");
  std::filesystem::resize_file(dir / "m.gguf", header.file_size - 10);
  try {
    GgufTensorReader reader(header, dir / "m.gguf");
    FAIL() << "opened a file that changed size";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("when its header was read"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mlxft
