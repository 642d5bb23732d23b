// LoRA gradient parity with Hugging Face PEFT: the golden files come from
// scripts/reference/peft_grads.py (a tiny random Mistral, a PEFT adapter with
// non-zero A and B on q/v/o/down_proj, two right-padded sequences with a
// partial loss mask, the masked mean NLL and its float64 gradients). Here the
// same model and adapter are loaded with mlxft's own readers, the loss is
// computed with forward + masked_cross_entropy under mx::value_and_grad, and
// every gradient must match PEFT's.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <numeric>
#include <string>

#include "mlxft/adapters/adapter_io.h"
#include "mlxft/formats/safetensors.h"
#include "mlxft/model/llama.h"
#include "mlxft/objective/loss.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
namespace mx = mlx::core;

namespace mlxft {
namespace {

fs::path golden_dir() {
  return test::source_dir() / "tests" / "golden" / "peft_grads";
}

struct Golden {
  Model model;
  LoraAdapters adapters;
  std::unordered_map<std::string, mx::array> ref;  // inputs, targets, mask, loss and PEFT-named grads
};

Golden load_golden() {
  Golden g{load_model(golden_dir() / "model", mx::float32), load_adapter(golden_dir() / "adapter"),
           load_safetensors(golden_dir() / "grads.safetensors")};
  check_adapter_fits(g.adapters, g.model.config, (golden_dir() / "adapter").string());
  return g;
}

// Masked mean NLL of the golden batch under `adapters`.
mx::array mean_loss(const Golden& g, const LoraAdapters& adapters) {
  ForwardOptions options;
  options.lora = &adapters;
  const mx::array logits = forward(g.model, g.ref.at("inputs"), options);
  const LossSum s = masked_cross_entropy(logits, g.ref.at("targets"), g.ref.at("mask"));
  return mx::divide(s.nll_sum, s.tokens);
}

float max_abs(const mx::array& a) {
  return mx::max(mx::abs(a)).item<float>();
}

TEST(PeftGradParity, LossAndEveryLoraGradientMatchPeft) {
  Golden g = load_golden();
  ASSERT_EQ(g.adapters.modules.size(), 8u);  // q, v, o, down on 2 layers
  EXPECT_FLOAT_EQ(g.adapters.config.scale(), 2.0f);

  LoraAdapters work = g.adapters;
  auto loss_fn = [&](const std::vector<mx::array>& params) {
    work.assign(params);
    return std::vector<mx::array>{mean_loss(g, work)};
  };
  const std::vector<mx::array> params = g.adapters.flatten();
  std::vector<int> argnums(params.size());
  std::iota(argnums.begin(), argnums.end(), 0);
  auto [values, grads] = mx::value_and_grad(loss_fn, argnums)(params);
  mx::eval(values);
  mx::eval(grads);

  const float loss = values[0].item<float>();
  const float ref_loss = g.ref.at("loss").item<float>();
  EXPECT_NEAR(loss, ref_loss, 1e-5) << "mlxft loss " << loss << ", PEFT loss " << ref_loss;

  LoraAdapters grad_tree = g.adapters;
  grad_tree.assign(grads);
  int compared = 0;
  float worst = 0.0f;
  for (const auto& [path, pair] : grad_tree.modules) {
    for (const auto& [part, grad] : {std::pair{"A", pair.a}, std::pair{"B", pair.b}}) {
      const std::string key = "base_model.model." + path + ".lora_" + part + ".weight";
      SCOPED_TRACE(key);
      const mx::array& want = g.ref.at(key);
      ASSERT_EQ(grad.shape(), want.shape());
      const float scale = max_abs(want);
      ASSERT_GT(scale, 0.0f);  // a zero reference would prove nothing
      const float rel = max_abs(mx::subtract(grad, want)) / scale;
      EXPECT_LT(rel, 1e-4) << "max |mlxft - PEFT| / max |PEFT| = " << rel;
      worst = std::max(worst, rel);
      ++compared;
    }
  }
  EXPECT_EQ(compared, 16);
  std::cout << std::setprecision(9) << "loss mlxft " << loss << " PEFT " << ref_loss
            << "; worst gradient error " << worst << " of the reference's max abs\n";
}

TEST(PeftGradParity, ExportedAdaptersGiveTheSameLoss) {
  Golden g = load_golden();
  const float loss = mean_loss(g, g.adapters).item<float>();
  test::TempDir tmp;
  save_adapter_peft(g.adapters, tmp / "peft", "../model");
  save_adapter_mlx(g.adapters, tmp / "mlx", g.model.config.num_hidden_layers);
  EXPECT_EQ(mean_loss(g, load_adapter(tmp / "peft")).item<float>(), loss);
  EXPECT_EQ(mean_loss(g, load_adapter(tmp / "mlx")).item<float>(), loss);
  // And the adapter matters: without it the loss is different.
  ForwardOptions plain;
  const LossSum base = masked_cross_entropy(forward(g.model, g.ref.at("inputs"), plain), g.ref.at("targets"),
                                            g.ref.at("mask"));
  EXPECT_GT(std::abs(mx::divide(base.nll_sum, base.tokens).item<float>() - loss), 1e-3);
}

}  // namespace
}  // namespace mlxft
