// KTO parity with TRL: the golden file comes from scripts/reference/kto_trl.py (the peft_grads tiny
// Mistral and LoRA adapter, four unpaired examples with mixed labels, TRL's collator with the KL
// completions rotated by one and TRL's KTOTrainer.compute_loss in float64, beta 0.5, undesirable
// weight 1.5). Here the same examples go through KtoObjective and the trainer's accumulate_gradients
// in float32: the loss, the KL reference point, the rewards and every LoRA gradient must match TRL's.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <optional>

#include "mlxft/adapters/adapter_io.h"
#include "mlxft/data/batching.h"
#include "mlxft/formats/safetensors.h"
#include "mlxft/model/llama.h"
#include "mlxft/objective/kto.h"
#include "mlxft/train/step.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
namespace mx = mlx::core;

namespace mlxft {
namespace {

fs::path peft_dir() {
  return test::source_dir() / "tests" / "golden" / "peft_grads";
}

std::vector<Example> golden_examples(const std::unordered_map<std::string, mx::array>& ref) {
  const auto ints = [&](const char* key) {
    const mx::array a = mx::astype(ref.at(key), mx::int32);
    mx::eval(a);
    return std::vector<int32_t>(a.data<int32_t>(), a.data<int32_t>() + a.size());
  };
  const std::vector<int32_t> ids = ints("ids"), lengths = ints("lengths"), prompts = ints("prompt_lengths"),
                             labels = ints("labels");
  const size_t width = ids.size() / lengths.size();
  std::vector<Example> out;
  for (size_t r = 0; r < lengths.size(); ++r) {
    const int length = lengths[r];
    const int prompt = prompts[r];
    Example e;
    e.index = static_cast<int64_t>(r);
    e.label = labels[r] != 0;
    e.ids.assign(ids.begin() + static_cast<std::ptrdiff_t>(r * width),
                 ids.begin() + static_cast<std::ptrdiff_t>(r * width) + length);
    e.mask.assign(static_cast<size_t>(length), 0);
    for (int t = prompt; t < length; ++t) e.mask[static_cast<size_t>(t)] = 1;
    out.push_back(std::move(e));
  }
  return out;
}

float value(const std::unordered_map<std::string, mx::array>& ref, const std::string& key) {
  mx::array a = ref.at(key);
  return a.item<float>();
}

float max_abs(const mx::array& a) {
  return mx::max(mx::abs(a)).item<float>();
}

TEST(KtoTrlParity, LossMetricsAndEveryLoraGradientMatchTrl) {
  const auto ref =
      load_safetensors(test::source_dir() / "tests" / "golden" / "kto_trl" / "golden.safetensors");
  const Model model = load_model(peft_dir() / "model", mx::float32);
  const LoraAdapters adapters = load_adapter(peft_dir() / "adapter");
  const std::vector<Example> examples = golden_examples(ref);
  ASSERT_EQ(examples.size(), 4u);

  const KtoOptions options{value(ref, "beta"), value(ref, "desirable_weight"),
                           value(ref, "undesirable_weight")};
  const KtoObjective objective(model, adapters, examples, options);
  const Batch batch = make_batch(examples, {0, 1, 2, 3});
  const Gradients g =
      accumulate_gradients(micro_batch_loss(objective), adapters.flatten(), {batch}, {dropout_key(0, 1, 0)});

  EXPECT_NEAR(g.loss, value(ref, "loss"), 1e-5) << "mlxft " << g.loss << ", TRL " << value(ref, "loss");
  EXPECT_DOUBLE_EQ(g.weight, 4.0);  // the mean is over sequences
  const auto metric = [&](const std::string& name) {
    return g.metrics.at(name).sum / g.metrics.at(name).count;
  };
  ASSERT_GT(value(ref, "kl"), 0.0f);  // the clamp is not what makes it match
  EXPECT_NEAR(metric("kl"), value(ref, "kl"), 1e-5);
  EXPECT_NEAR(metric("rewards_chosen"), value(ref, "rewards_chosen"), 1e-5);
  EXPECT_NEAR(metric("rewards_rejected"), value(ref, "rewards_rejected"), 1e-5);
  EXPECT_NEAR(metric("rewards_margin"), value(ref, "rewards_chosen") - value(ref, "rewards_rejected"), 1e-5);
  EXPECT_NEAR(metric("kto_loss"), g.loss, 1e-6);

  LoraAdapters grad_tree = adapters;
  grad_tree.assign(g.grads);
  int compared = 0;
  float worst = 0.0f;
  for (const auto& [path, pair] : grad_tree.modules) {
    for (const auto& [part, grad] : {std::pair{"A", pair.a}, std::pair{"B", pair.b}}) {
      const std::string key = "base_model.model." + path + ".lora_" + part + ".weight";
      SCOPED_TRACE(key);
      const mx::array& want = ref.at(key);
      ASSERT_EQ(grad.shape(), want.shape());
      const float scale = max_abs(want);
      ASSERT_GT(scale, 0.0f);  // a zero reference would prove nothing
      const float abs_err = max_abs(mx::subtract(grad, want));
      EXPECT_LT(abs_err, 1e-4f);
      EXPECT_LT(abs_err / scale, 1e-4f) << "max |mlxft - TRL| / max |TRL| = " << abs_err / scale;
      worst = std::max(worst, abs_err / scale);
      ++compared;
    }
  }
  EXPECT_EQ(compared, 16);
  std::cout << std::setprecision(9) << "loss mlxft " << g.loss << " TRL " << value(ref, "loss")
            << "; worst gradient error " << worst << " of the reference's max abs\n";
}

// kto.reference init_adapter: the reference model applies a frozen adapter. With the policy's own
// starting adapter as the reference every log-ratio is 0 (r = 0, kl = 0, loss 1 - sigmoid(0) = 0.5 per
// row) while the base as reference gives the nonzero rewards above; a different reference adapter
// gives other rewards (the reference really is the adapter, not the base).
TEST(KtoTrlParity, AReferenceAdapterIsWhatTheLogRatioIsMeasuredAgainst) {
  const auto ref =
      load_safetensors(test::source_dir() / "tests" / "golden" / "kto_trl" / "golden.safetensors");
  const Model model = load_model(peft_dir() / "model", mx::float32);
  LoraAdapters adapters = load_adapter(peft_dir() / "adapter");
  adapters.config.dropout = 0.0f;  // the policy without dropout equals the reference exactly
  const std::vector<Example> examples = golden_examples(ref);
  const Batch batch = make_batch(examples, {0, 1, 2, 3});
  const KtoOptions options{.beta = 0.5};
  const auto sums = [&](std::optional<LoraAdapters> reference) {
    const KtoObjective objective(model, adapters, examples, options, std::move(reference));
    return objective.sums(adapters.flatten(), batch, dropout_key(0, 1, 0));
  };
  const auto val = [](mx::array a) { return a.item<float>(); };  // evaluates a copy
  const ObjectiveSums self = sums(adapters);
  EXPECT_EQ(val(self.metrics.at("rewards_chosen").sum), 0.0f);
  EXPECT_EQ(val(self.metrics.at("rewards_rejected").sum), 0.0f);
  EXPECT_EQ(val(self.metrics.at("kl").sum), 0.0f);
  EXPECT_NEAR(val(self.loss.nll_sum), 4 * 0.5, 1e-6);

  const float base_reward = val(sums(std::nullopt).metrics.at("rewards_chosen").sum);
  EXPECT_GT(std::abs(base_reward), 1e-4f);
  LoraAdapters half = adapters;
  std::vector<mx::array> scaled;
  for (const mx::array& p : adapters.flatten()) scaled.push_back(mx::multiply(p, mx::array(0.5f)));
  half.assign(scaled);
  const float half_reward = val(sums(half).metrics.at("rewards_chosen").sum);
  EXPECT_GT(std::abs(half_reward), 1e-5f);
  EXPECT_GT(std::abs(half_reward - base_reward), 1e-5f);
}

// A lone row (the short last batch of an epoch) has no mismatched pair: kl = 0 and the loss is the
// formula with kl = 0, not the row's own log-ratio.
TEST(KtoTrlParity, ALoneRowGetsAZeroKlPoint) {
  const auto ref =
      load_safetensors(test::source_dir() / "tests" / "golden" / "kto_trl" / "golden.safetensors");
  const Model model = load_model(peft_dir() / "model", mx::float32);
  const LoraAdapters adapters = load_adapter(peft_dir() / "adapter");
  const std::vector<Example> examples = golden_examples(ref);
  const KtoOptions options{.beta = 0.5};
  const KtoObjective objective(model, adapters, examples, options);
  int positive = 0;  // rows whose r > 0: paired with themselves they would get kl = r, not 0
  for (size_t row = 0; row < examples.size(); ++row) {
    SCOPED_TRACE(row);
    const ObjectiveSums s =
        objective.sums(adapters.flatten(), make_batch(examples, {row}), dropout_key(0, 1, 0));
    const bool good = *examples[row].label;
    mx::array kl = s.metrics.at("kl").sum, loss = s.loss.nll_sum;
    mx::array reward = s.metrics.at(good ? "rewards_chosen" : "rewards_rejected").sum;
    const float r = reward.item<float>();  // beta x log-ratio
    EXPECT_EQ(kl.item<float>(), 0.0f);
    EXPECT_NEAR(loss.item<float>(), 1.0 - 1.0 / (1.0 + std::exp(good ? -r : r)), 1e-6);
    positive += r > 0.0f ? 1 : 0;
  }
  EXPECT_GT(positive, 0);
}

}  // namespace
}  // namespace mlxft
