// The graph-free decoding step (model/decode_step.h): its logits equal forward()'s with a KV cache at
// every position (float32 and 4/8-bit weights, a tied or separate head, LoRA on every projection, past
// the cache's first 256 positions), generate() gives the tokens of the forward() loop, and models it
// does not compute exactly are left to forward() with the reason.
#include "mlxft/model/decode_step.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "mlxft/eval/generate.h"
#include "mlxft/model/init.h"
#include "mlxft/model/lora.h"
#include "mlxft/model/quant.h"

namespace mx = mlx::core;

namespace mlxft {
namespace {

Model tiny(uint64_t seed, bool tied, std::optional<QuantSpec> quant = {}, const std::string& type = "mistral",
           mx::Dtype scales = mx::float32) {
  Model m;
  m.config = preset_config("tiny", 512);
  m.config.model_type = type;
  m.config.eos_token_id = 511;
  m.config.tie_word_embeddings = tied;
  m.weights = random_weights(m.config, seed, mx::float32);
  int i = 0;
  for (auto& [name, w] : m.weights) {  // far from uniform logits: greedy is not a tie-fest
    if (w.ndim() == 2) w = mx::multiply(w, mx::array(25.0f));
    if (w.ndim() == 1)  // norms and biases other than ones
      w = mx::add(w, mx::random::normal(w.shape(), mx::float32, 0.0f, 0.3f, mx::random::key(100 + ++i)));
  }
  if (quant) m.quantization = quantize_weights(m.weights, m.config, *quant);
  for (const auto& [module, spec] : m.quantization) {  // scales as a GGUF's Q4_0/Q8_0 or mlx-lm's hold them
    for (const char* part : {".scales", ".biases"}) {
      mx::array& a = m.weights.at(module + part);
      a = mx::astype(a, scales);
    }
  }
  for (auto& [name, w] : m.weights) mx::eval(w);
  return m;
}

LoraAdapters every_projection(const Model& m) {
  LoraConfig c;
  c.rank = 4;
  c.targets = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
  LoraAdapters a = init_lora(m.config, c, 1);
  int i = 0;
  for (auto& [path, pair] : a.modules)
    pair.b = mx::multiply(mx::random::normal(pair.b.shape(), mx::float32, mx::random::key(++i)), mx::array(0.5f));
  return a;
}

// Feeds `prompt`, then `steps` tokens one at a time both ways; returns the largest |difference| of the
// logits relative to the largest |logit|.
float worst_relative_gap(const Model& m, const LoraAdapters* lora, const std::vector<int32_t>& prompt, int steps) {
  std::string why;
  auto native = DecodeStep::make(m, lora, &why);
  EXPECT_TRUE(native) << why;
  if (!native) return INFINITY;
  ForwardOptions o;
  o.lora = lora;
  KVCache cache;
  mx::array logits = forward(m, mx::array(prompt.data(), {1, static_cast<int>(prompt.size())}, mx::int32), o, &cache);
  mx::eval(logits);
  native->start(cache);
  EXPECT_EQ(native->offset(), static_cast<int>(prompt.size()));
  float worst = 0.0f;
  int32_t token = 3;
  for (int s = 0; s < steps; ++s) {
    const float* got = native->step({token});
    const mx::array want = forward(m, mx::array(&token, {1, 1}, mx::int32), o, &cache);
    mx::eval(want);
    const float* w = want.data<float>();
    float top = 0.0f, gap = 0.0f;
    for (int v = 0; v < m.config.vocab_size; ++v) {
      top = std::max(top, std::abs(w[v]));
      gap = std::max(gap, std::abs(w[v] - got[v]));
    }
    worst = std::max(worst, gap / top);
    token = static_cast<int32_t>(std::max_element(w, w + m.config.vocab_size) - w);
  }
  EXPECT_EQ(native->offset(), static_cast<int>(prompt.size()) + steps);
  return worst;
}

TEST(DecodeStep, LogitsEqualForwardWithACacheForEveryWeightKind) {
  const std::vector<int32_t> prompt = {1, 17, 300, 42, 9, 250, 7};
  struct Case {
    const char* name;
    bool tied;
    std::optional<QuantSpec> quant;
    mx::Dtype scales = mx::float32;
  };
  for (const Case& c : {Case{"float32, separate head", false, {}}, Case{"float32, tied", true, {}},
                        Case{"4-bit g32, tied", true, QuantSpec{4, 32}}, Case{"8-bit g64", false, QuantSpec{8, 64}},
                        Case{"4-bit g32, float16 scales", true, QuantSpec{4, 32}, mx::float16},
                        Case{"8-bit g32, bfloat16 scales", false, QuantSpec{8, 32}, mx::bfloat16}}) {
    const Model m = tiny(5, c.tied, c.quant, "mistral", c.scales);
    EXPECT_LT(worst_relative_gap(m, nullptr, prompt, 12), 1e-4f) << c.name;
    const LoraAdapters lora = every_projection(m);
    EXPECT_LT(worst_relative_gap(m, &lora, prompt, 12), 1e-4f) << c.name << " with LoRA";
  }
}

// Qwen2's q/k/v biases and Qwen3's per-head q/k norms.
TEST(DecodeStep, LogitsEqualForwardForQwenBlocks) {
  const std::vector<int32_t> prompt = {1, 17, 300, 42, 9};
  for (const char* type : {"qwen2", "qwen3"}) {
    const Model m = tiny(11, true, QuantSpec{4, 32}, type);
    const LoraAdapters lora = every_projection(m);
    EXPECT_LT(worst_relative_gap(m, &lora, prompt, 10), 1e-4f) << type;
  }
}

// The adapters matter (the comparison would pass with them ignored otherwise).
TEST(DecodeStep, AdaptersChangeTheLogits) {
  const Model m = tiny(6, true, QuantSpec{4, 32});
  const LoraAdapters lora = every_projection(m);
  auto plain = DecodeStep::make(m, nullptr);
  auto adapted = DecodeStep::make(m, &lora);
  ASSERT_TRUE(plain && adapted);
  plain->start(KVCache{});
  adapted->start(KVCache{});
  const float* a = plain->step({1});
  const std::vector<float> first(a, a + m.config.vocab_size);
  const float* b = adapted->step({1});
  float gap = 0.0f;
  for (int v = 0; v < m.config.vocab_size; ++v) gap = std::max(gap, std::abs(first[static_cast<size_t>(v)] - b[v]));
  EXPECT_GT(gap, 1e-2f);
}

// Past the first 256 cached positions the buffers grow and keep what they hold.
TEST(DecodeStep, GrowsPastTheFirstCacheStep) {
  Model m = tiny(7, true, QuantSpec{4, 32});
  m.config.max_position_embeddings = 1024;
  std::vector<int32_t> prompt;
  for (int i = 0; i < 250; ++i) prompt.push_back((i * 37 + 11) % 500);
  EXPECT_LT(worst_relative_gap(m, nullptr, prompt, 20), 1e-4f);
}

// A left-padded batch: each row continues from its own positions (its padding dropped, its RoPE positions
// kept), and rows can leave the batch.
TEST(DecodeStep, BatchRowsEqualForwardOnTheLeftPaddedCache) {
  const Model m = tiny(8, true, QuantSpec{4, 32});
  const LoraAdapters lora = every_projection(m);
  const std::vector<std::vector<int32_t>> prompts = {{1, 17, 300}, {1, 5, 6, 7, 8, 9, 10}, {1, 44, 45, 46, 47}};
  KVCache cache;
  std::vector<int32_t> ids(3 * 7, 0);
  for (size_t b = 0; b < 3; ++b) {
    const size_t pad = 7 - prompts[b].size();
    std::copy(prompts[b].begin(), prompts[b].end(), ids.begin() + static_cast<std::ptrdiff_t>(b * 7 + pad));
    cache.left_pad.push_back(static_cast<int>(pad));
  }
  ForwardOptions o;
  o.lora = &lora;
  mx::eval(forward(m, mx::array(ids.data(), {3, 7}, mx::int32), o, &cache));
  auto native = DecodeStep::make(m, &lora);
  ASSERT_TRUE(native);
  native->start(cache);
  EXPECT_EQ(native->rows(), 3);
  std::vector<int32_t> tokens = {3, 4, 5};
  for (int s = 0; s < 6; ++s) {
    if (s == 3) {  // the middle row leaves
      native->keep({0, 2});
      for (auto* kv : {&cache.keys, &cache.values})
        for (auto& a : *kv) a = mx::take(a, mx::array({0, 2}), 0);
      cache.left_pad = {cache.left_pad[0], cache.left_pad[2]};
      tokens = {tokens[0], tokens[2]};
    }
    const int n = static_cast<int>(tokens.size());
    const float* got = native->step(tokens);
    const mx::array want = forward(m, mx::array(tokens.data(), {n, 1}, mx::int32), o, &cache);
    mx::eval(want);
    const int V = m.config.vocab_size;
    for (int r = 0; r < n; ++r) {
      float top = 0.0f, gap = 0.0f;
      for (int v = 0; v < V; ++v) {
        top = std::max(top, std::abs(want.data<float>()[r * V + v]));
        gap = std::max(gap, std::abs(want.data<float>()[r * V + v] - got[r * V + v]));
      }
      EXPECT_LT(gap / top, 1e-4f) << "step " << s << " row " << r;
      tokens[static_cast<size_t>(r)] = (tokens[static_cast<size_t>(r)] * 7 + 13) % 500;
    }
    EXPECT_EQ(native->offset(), 8 + s);
  }
}

TEST(DecodeStep, GenerateBatchGivesTheTokensOfTheForwardLoop) {
  const Model m = tiny(9, true, QuantSpec{4, 32});
  const LoraAdapters lora = every_projection(m);
  GenerateOptions o;
  o.max_tokens = 16;
  o.lora = &lora;
  const std::vector<std::vector<int32_t>> prompts = {{1, 17, 300}, {1, 5, 6, 7, 8, 9, 10}, {1, 44, 45, 46, 47}};
  const auto first = generate_batch(m, prompts, o);
  o.stop_ids = {first.at(1).at(5)};  // a token of one row: rows now leave at different steps
  const auto native = generate_batch(m, prompts, o);
  setenv("MLXFT_NATIVE_DECODE", "0", 1);
  const auto graph = generate_batch(m, prompts, o);
  unsetenv("MLXFT_NATIVE_DECODE");
  EXPECT_EQ(native, graph);
  EXPECT_LT(native[1].size(), 16u);
}

TEST(DecodeStep, GenerateGivesTheTokensOfTheForwardLoop) {
  for (uint64_t seed : {1u, 2u}) {
    const Model m = tiny(seed, true, QuantSpec{4, 32});
    const LoraAdapters lora = every_projection(m);
    GenerateOptions o;
    o.max_tokens = 24;
    o.lora = &lora;
    const std::vector<int32_t> prompt = {1, 17, 300, 42, 9, 250};
    const auto native = generate(m, prompt, o);
    setenv("MLXFT_NATIVE_DECODE", "0", 1);
    const auto graph = generate(m, prompt, o);
    unsetenv("MLXFT_NATIVE_DECODE");
    EXPECT_EQ(native, graph) << "seed " << seed;
    EXPECT_GT(native.size(), 4u);
  }
}

TEST(DecodeStep, LeavesOtherModelsToForwardWithTheReason) {
  std::string why;
  const Model m = tiny(1, true);
  setenv("MLXFT_NATIVE_DECODE", "0", 1);
  EXPECT_FALSE(DecodeStep::make(m, nullptr, &why));
  EXPECT_EQ(why, "MLXFT_NATIVE_DECODE=0");
  unsetenv("MLXFT_NATIVE_DECODE");

  LoraAdapters dora = every_projection(m);
  dora.config.kind = AdapterKind::dora;
  EXPECT_FALSE(DecodeStep::make(m, &dora, &why));
  EXPECT_NE(why.find("DoRA"), std::string::npos) << why;

  Model gemma = m;
  gemma.config.model_type = "gemma3_text";
  EXPECT_FALSE(DecodeStep::make(gemma, nullptr, &why));
  EXPECT_NE(why.find("gemma3_text"), std::string::npos) << why;

  const Model phi3 = tiny(1, true, {}, "phi3");  // fused qkv_proj / gate_up_proj
  EXPECT_FALSE(DecodeStep::make(phi3, nullptr, &why));
  EXPECT_NE(why.find("phi3"), std::string::npos) << why;

  const Model five = tiny(1, true, QuantSpec{5, 32});
  EXPECT_FALSE(DecodeStep::make(five, nullptr, &why));
  EXPECT_NE(why.find("5-bit"), std::string::npos) << why;

  Model sliding = m;
  sliding.config.sliding_window = 4;
  EXPECT_FALSE(DecodeStep::make(sliding, nullptr, &why));
  EXPECT_NE(why.find("sliding"), std::string::npos) << why;
}

}  // namespace
}  // namespace mlxft
