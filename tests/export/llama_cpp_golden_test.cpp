// llama.cpp's verdict, kept for CI: scripts/reference/export_check.py --golden ran llama.cpp on mlxft's
// GGUF exports of the tiny Mistral (mlxft model init --preset tiny --seed 3) with the adapter in
// tests/golden/gguf_export/adapter, and recorded its greedy ids (fused f32 GGUF; base GGUF + LoRA GGUF)
// and per-token loss (q8_0 GGUF). Here mlxft re-exports the same model and reads its exports back: the
// f32 GGUF continues as llama.cpp did, the q8_0 GGUF's per-token loss is llama.cpp's within 1 %, and
// base + adapter computed by mlxft continues as llama.cpp's base + LoRA did.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "export/export_test_support.h"
#include "mlxft/adapters/adapter_io.h"
#include "mlxft/export/gguf_export.h"
#include "mlxft/model/llama.h"
#include "support/test_support.h"
#include "tokenizer/bpe_test_support.h"

namespace fs = std::filesystem;
namespace mx = mlx::core;

namespace mlxft {
namespace {

fs::path golden() {
  return test::source_dir() / "tests" / "golden" / "gguf_export";
}

mx::array ids_array(const std::vector<int32_t>& ids) {
  return mx::array(ids.data(), {1, static_cast<int>(ids.size())}, mx::int32);
}

std::vector<int32_t> greedy(const Model& m, const std::vector<int32_t>& prompt, size_t n,
                            const LoraAdapters* lora) {
  ForwardOptions o;
  o.lora = lora;
  KVCache cache;
  mx::array logits = forward(m, ids_array(prompt), o, &cache);
  std::vector<int32_t> out;
  while (out.size() < n) {
    const mx::array last = mx::slice(logits, {0, logits.shape(1) - 1, 0}, logits.shape());
    out.push_back(mx::astype(mx::argmax(last, -1), mx::int32).item<int32_t>());
    logits = forward(m, ids_array({out.back()}), o, &cache);
  }
  return out;
}

TEST(LlamaCppGolden, ExportsOfTheTinyMistralBehaveAsLlamaCppRanThem) {
  MLXFT_REQUIRE_FILE(test::v3_tokenizer().string(), "Mistral v3 tokenizer (mistral-common)");
  const auto g = nlohmann::json::parse(test::read_file(golden() / "llama_cpp.json"));
  const auto prompt = g["prompt_ids"].get<std::vector<int32_t>>();
  const auto text = g["text_ids"].get<std::vector<int32_t>>();
  const auto want_f32 = g["greedy_f32"].get<std::vector<int32_t>>();
  test::TempDir tmp;
  test::tiny_model_dir(tmp / "base");
  const fs::path adapter = golden() / "adapter";
  write_gguf_model({tmp / "base", adapter, tmp / "f32.gguf", GgmlType::F32, {}});
  write_gguf_model({tmp / "base", adapter, tmp / "q8.gguf", GgmlType::Q8_0, {}});
  EXPECT_EQ(greedy(load_model(tmp / "f32.gguf", mx::float32), prompt, want_f32.size(), nullptr), want_f32);
  const LoraAdapters lora = load_adapter(adapter);
  EXPECT_EQ(greedy(load_model(tmp / "base", mx::float32), prompt, want_f32.size(), &lora),
            g["greedy_lora"].get<std::vector<int32_t>>());
  // Per-token loss of the q8_0 export, as mlxft reads it, against llama.cpp's.
  const mx::array logits = forward(load_model(tmp / "q8.gguf", mx::float32), ids_array(text));
  const mx::array logp = logits - mx::logsumexp(logits, -1, true);
  const auto want = g["nll_q8_0"].get<std::vector<double>>();
  ASSERT_EQ(want.size(), text.size() - 1);
  double sum_ours = 0, sum_theirs = 0;
  for (size_t t = 0; t + 1 < text.size(); ++t) {
    sum_ours -=
        mx::slice(logp, {0, static_cast<int>(t), text[t + 1]}, {1, static_cast<int>(t) + 1, text[t + 1] + 1})
            .item<float>();
    sum_theirs += want[t];
  }
  EXPECT_NEAR(sum_ours / sum_theirs, 1.0, 0.01) << sum_ours << " vs llama.cpp " << sum_theirs;
}

}  // namespace
}  // namespace mlxft
