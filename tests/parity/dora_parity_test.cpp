// DoRA parity with PEFT 0.21 and mlx-lm: the golden files come from scripts/reference/dora_check.py,
// which trained a DoRA adapter with `mlxft train` (lora.kind dora) on the tiny Mistral (`mlxft model
// init --preset tiny --seed 3`, rebuilt here, its LM head scaled by 15), loaded its PEFT export into transformers + PEFT and its
// mlx-lm export into mlx-lm, and recorded both per-example losses of three texts and PEFT's float64
// gradients of their mean. Here mlxft rebuilds the model, reads the golden adapter (and its own mlx-lm
// export of it) and must give the same per-example losses (relative 1e-4) and PEFT's gradients for
// every lora_A, lora_B and lora_magnitude_vector (relative 1e-4 of each tensor's largest).
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <numeric>

#include "export/export_test_support.h"
#include "mlxft/adapters/adapter_io.h"
#include "mlxft/formats/safetensors.h"
#include "mlxft/model/adapted_linear.h"
#include "mlxft/model/llama.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
namespace mx = mlx::core;

namespace mlxft {
namespace {

fs::path golden() {
  return test::source_dir() / "tests" / "golden" / "dora";
}

float max_abs(const mx::array& a) {
  return mx::max(mx::abs(a)).item<float>();
}

// Mean next-token NLL of one example [1, T].
mx::array example_loss(const Model& m, const LoraAdapters& adapters, const mx::array& ids) {
  ForwardOptions o;
  o.lora = &adapters;
  const int T = ids.shape(1);
  const mx::array logits = mx::slice(forward(m, ids, o), {0, 0, 0}, {1, T - 1, m.config.vocab_size});
  const mx::array targets = mx::slice(ids, {0, 1}, {1, T});
  const mx::array logp = mx::subtract(logits, mx::logsumexp(logits, -1, true));
  const mx::array picked = mx::take_along_axis(logp, mx::expand_dims(targets, -1), -1);
  return mx::negative(mx::mean(picked));
}

struct Golden {
  Model model;
  LoraAdapters adapters;
  std::unordered_map<std::string, mx::array> ref;
  std::vector<mx::array> examples;
};

Golden load_golden(const test::TempDir& tmp) {
  test::tiny_model_dir(tmp / "base");
  Golden g{load_model(tmp / "base", mx::float32), load_adapter(golden() / "adapter"),
           load_safetensors(golden() / "dora.safetensors"), {}};
  // The script's scale_head(): the LM head times 15 (in float32), so that the loss can move.
  mx::array& head = g.model.weights.at("lm_head.weight");
  head = mx::multiply(head, mx::array(15.0f));
  mx::eval(head);
  for (int i = 0; g.ref.count("ids_" + std::to_string(i)); ++i) g.examples.push_back(g.ref.at("ids_" + std::to_string(i)));
  return g;
}

TEST(DoraParity, PerExampleLossesMatchPeftAndMlxLm) {
  MLXFT_REQUIRE_TOKENIZER();
  test::TempDir tmp;
  const Golden g = load_golden(tmp);
  ASSERT_EQ(g.adapters.config.kind, AdapterKind::dora);
  ASSERT_EQ(g.examples.size(), 3u);
  save_adapter_mlx(g.adapters, tmp / "mlx", g.model.config.num_hidden_layers);
  const LoraAdapters from_mlx = load_adapter(tmp / "mlx");
  const mx::array peft = g.ref.at("loss_peft"), mlx_lm = g.ref.at("loss_mlx_lm");
  LoraAdapters none = g.adapters;
  none.modules.clear();
  for (size_t i = 0; i < g.examples.size(); ++i) {
    const float ours = example_loss(g.model, g.adapters, g.examples[i]).item<float>();
    const float want_peft = mx::take(peft, static_cast<int>(i)).item<float>();
    const float want_mlx = mx::take(mlx_lm, static_cast<int>(i)).item<float>();
    EXPECT_LT(std::abs(ours - want_peft) / want_peft, 1e-4) << "example " << i << ": mlxft " << ours << " PEFT " << want_peft;
    EXPECT_LT(std::abs(ours - want_mlx) / want_mlx, 1e-4) << "example " << i << ": mlxft " << ours << " mlx-lm " << want_mlx;
    EXPECT_EQ(example_loss(g.model, from_mlx, g.examples[i]).item<float>(), ours) << "example " << i;
    // The adapter matters: the base model's loss is another.
    EXPECT_GT(std::abs(example_loss(g.model, none, g.examples[i]).item<float>() - ours), 1e-2) << "example " << i;
  }
}

TEST(DoraParity, GradientsOfEveryTensorMatchPeft) {
  MLXFT_REQUIRE_TOKENIZER();
  test::TempDir tmp;
  const Golden g = load_golden(tmp);
  LoraAdapters work = g.adapters;
  auto loss_fn = [&](const std::vector<mx::array>& params) {
    work.assign(params);
    mx::array sum = mx::array(0.0f);
    for (const auto& ids : g.examples) sum = mx::add(sum, example_loss(g.model, work, ids));
    return std::vector<mx::array>{mx::divide(sum, mx::array(static_cast<float>(g.examples.size())))};
  };
  const std::vector<mx::array> params = g.adapters.flatten();
  std::vector<int> argnums(params.size());
  std::iota(argnums.begin(), argnums.end(), 0);
  const std::vector<mx::array> grads = mx::value_and_grad(loss_fn, argnums)(params).second;
  mx::eval(grads);
  LoraAdapters grad_tree = g.adapters;
  grad_tree.assign(grads);
  const auto& names = adapter_tensors(AdapterKind::dora);
  int compared = 0;
  float worst = 0.0f;
  for (const auto& [path, pair] : grad_tree.modules) {
    const auto arrays = pair.arrays();
    ASSERT_EQ(arrays.size(), 3u);
    for (size_t i = 0; i < arrays.size(); ++i) {
      const std::string key = "grad.base_model.model." + path + "." + names[i].peft_file;
      SCOPED_TRACE(key);
      const mx::array& want = g.ref.at(key);
      ASSERT_EQ(arrays[i].shape(), want.shape());
      const float scale = max_abs(want);
      ASSERT_GT(scale, 0.0f);  // a zero reference would prove nothing
      const float rel = max_abs(mx::subtract(arrays[i], want)) / scale;
      EXPECT_LT(rel, 1e-4) << "max |mlxft - PEFT| / max |PEFT| = " << rel;
      worst = std::max(worst, rel);
      ++compared;
    }
  }
  EXPECT_EQ(compared, 2 * 7 * 3);
  std::cout << "worst DoRA gradient error " << worst << " of the reference's max abs\n";
}

}  // namespace
}  // namespace mlxft
