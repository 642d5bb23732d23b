// Gradient accumulation through the real forward pass of a tiny Mistral-shaped model (hidden 64,
// 2 layers, random weights in memory): 4 micro-batches of 2 give the gradient of one batch of 8
// within 1e-5, with rows of different lengths and trained-token counts; per-layer gradient
// checkpointing gives the same gradients as keeping every activation.
#include <gtest/gtest.h>

#include "mlxft/data/batching.h"
#include "mlxft/model/init.h"
#include "mlxft/model/llama.h"
#include "mlxft/objective/sft.h"
#include "mlxft/train/step.h"

namespace mx = mlx::core;

namespace {

std::vector<mlxft::Example> examples(int n, int vocab) {
  std::vector<mlxft::Example> out;
  for (int i = 0; i < n; ++i) {
    mlxft::Example e;
    e.index = i;
    const int len = 6 + (i * 5) % 9;
    for (int t = 0; t < len; ++t) {
      e.ids.push_back(1 + (i * 37 + t * 11) % (vocab - 1));
      e.mask.push_back(t >= 2 + i % 3 ? 1 : 0);
    }
    out.push_back(e);
  }
  return out;
}

}  // namespace

TEST(TrainAccumulation, FourMicroBatchesOfTwoEqualOneBatchOfEightThroughTheModel) {
  mlxft::Model model;
  model.config = mlxft::preset_config("tiny", 512);
  model.weights = mlxft::random_weights(model.config, 3, mx::float32);
  mlxft::LoraConfig lc;
  lc.rank = 4;
  lc.targets = {"q_proj", "v_proj", "down_proj"};
  mlxft::LoraAdapters adapters = mlxft::init_lora(model.config, lc, 9);
  // B = 0 at init gives zero A-gradients; move B off zero so every gradient is informative.
  std::vector<mx::array> params = adapters.flatten();
  for (size_t i = 1; i < params.size(); i += 2) {
    params[i] = mx::random::normal(params[i].shape(), mx::float32, 0.0f, 0.05f, mx::random::key(i));
  }
  mx::eval(params);

  const mlxft::SftObjective plain(model, adapters);
  const mlxft::MicroBatchLoss loss = mlxft::micro_batch_loss(plain);
  const auto ex = examples(8, 512);
  const mx::array key = mlxft::dropout_key(0, 1, 0);
  auto one =
      mlxft::accumulate_gradients(loss, params, {mlxft::make_batch(ex, {0, 1, 2, 3, 4, 5, 6, 7})}, {key});
  std::vector<mlxft::Batch> micro;
  for (size_t i = 0; i < 8; i += 2) micro.push_back(mlxft::make_batch(ex, {i, i + 1}));
  auto four = mlxft::accumulate_gradients(loss, params, micro, {key, key, key, key});

  EXPECT_EQ(one.tokens, four.tokens);
  EXPECT_NEAR(one.loss, four.loss, 1e-5);
  ASSERT_EQ(one.grads.size(), params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_EQ(one.grads[i].shape(), params[i].shape());
    const float diff = mx::max(mx::abs(mx::subtract(one.grads[i], four.grads[i]))).item<float>();
    const float scale = mx::max(mx::abs(one.grads[i])).item<float>();
    EXPECT_GT(scale, 0.0f) << "parameter " << i << " has a zero gradient";
    EXPECT_LE(diff, 1e-5f * std::max(1.0f, scale)) << "parameter " << i;
  }

  const mlxft::SftObjective checkpointed(model, adapters, {.checkpoint_layers = true});
  auto recomputed = mlxft::accumulate_gradients(mlxft::micro_batch_loss(checkpointed), params, micro, {key, key, key, key});
  EXPECT_NEAR(recomputed.loss, four.loss, 1e-6);
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_TRUE(mx::allclose(recomputed.grads[i], four.grads[i], 1e-5, 1e-7).item<bool>())
        << "parameter " << i;
  }
}
