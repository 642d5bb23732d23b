// A GGUF written by llama.cpp's own converter (convert_hf_to_gguf.py --outtype f32) from a tiny
// transformers Llama: mlxft's loader gives transformers' logits and greedy continuation (goldens
// written by scripts/reference/gguf_convert_parity.py).
#include <gtest/gtest.h>

#include "mlxft/model/gguf_model.h"
#include "support/test_support.h"

namespace mx = mlx::core;

namespace mlxft {
namespace {

std::filesystem::path golden() {
  return test::source_dir() / "tests" / "golden" / "gguf_convert";
}

TEST(GgufConvert, ConverterOutputMatchesTransformersLogitsAndGreedyIds) {
  const GgufModel g = load_gguf_model(golden() / "tiny_llama_f32.gguf");
  EXPECT_EQ(g.config.num_hidden_layers, 2);
  EXPECT_EQ(g.config.num_key_value_heads, 1);
  EXPECT_EQ(g.config.head_dim, 16);
  EXPECT_FLOAT_EQ(g.config.rope_theta, 5e5f);
  EXPECT_FALSE(g.config.tie_word_embeddings);
  EXPECT_TRUE(g.quantization.empty());
  const Model m = gguf_float_model(g, mx::float32);

  const auto ref = mx::load_safetensors((golden() / "greedy.safetensors").string()).first;
  const mx::array prompt = ref.at("prompt"), continuation = ref.at("continuation");
  const int P = prompt.shape(1), N = continuation.shape(1);

  // Teacher-forced logits over prompt + continuation (minus its last token).
  const mx::array all = mx::concatenate({prompt, continuation}, 1);
  const mx::array logits = forward(m, mx::slice(all, {0, 0}, {1, P + N - 1}));
  ASSERT_EQ(logits.shape(), ref.at("logits").shape());
  const float diff = mx::max(mx::abs(mx::subtract(logits, ref.at("logits")))).item<float>();
  EXPECT_LT(diff, 1e-4f);
  mx::array margin = ref.at("min_margin");
  EXPECT_LT(diff, margin.item<float>() / 4);  // the greedy ids cannot flip

  // Greedy decoding through the KV cache, no EOS stop: the same ids as transformers.
  KVCache cache;
  mx::array next =
      mx::argmax(mx::slice(forward(m, prompt, {}, &cache), {0, P - 1, 0}, {1, P, m.config.vocab_size}), -1);
  std::vector<int32_t> ids;
  for (int t = 0; t < N; ++t) {
    ids.push_back(mx::astype(next, mx::int32).item<int32_t>());
    next = mx::argmax(forward(m, mx::array({ids.back()}, {1, 1}, mx::int32), {}, &cache), -1);
  }
  const mx::array expected = mx::astype(continuation, mx::int32);
  mx::eval(expected);
  EXPECT_EQ(ids, std::vector<int32_t>(expected.data<int32_t>(), expected.data<int32_t>() + N));
}

}  // namespace
}  // namespace mlxft
