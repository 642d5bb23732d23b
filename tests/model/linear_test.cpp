// The linear-kernel seam and the split of the forward pass into body and LM head.
#include "mlxft/model/linear.h"

#include <gtest/gtest.h>

#include "mlxft/model/init.h"
#include "mlxft/model/llama.h"
#include "mlxft/model/lora.h"
#include "mlxft/util/error.h"

namespace mx = mlx::core;

namespace mlxft {
namespace {

TEST(FrozenLinear, IsXTimesWTransposed) {
  const mx::array x = mx::array({1.0f, 2.0f, 3.0f}, {1, 3});
  const mx::array w = mx::array({1.0f, 0.0f, 0.0f, 0.0f, 1.0f, 1.0f}, {2, 3});  // [out 2, in 3]
  const mx::array y = frozen_linear(x, FrozenWeight(w));
  mx::eval(y);
  ASSERT_EQ(y.shape(), (mx::Shape{1, 2}));
  EXPECT_EQ(y.data<float>()[0], 1.0f);
  EXPECT_EQ(y.data<float>()[1], 5.0f);
  FrozenWeight q(w);
  q.bits = 4;
  EXPECT_THROW(frozen_linear(x, q), Error);
}

TEST(FrozenLinear, ForwardIsTheHeadOfTheHiddenStatesBitForBit) {
  Model m;
  m.config = preset_config("tiny", 256);
  m.weights = random_weights(m.config, 7, mx::float32);
  const mx::array tokens = mx::random::randint(0, 256, {2, 9}, mx::int32, mx::random::key(3));
  const mx::array hidden = forward_hidden(m, tokens);
  EXPECT_EQ(hidden.shape(), (mx::Shape{2, 9, m.config.hidden_size}));
  const mx::array logits = forward(m, tokens);
  EXPECT_TRUE(mx::array_equal(logits, lm_head(m, hidden)).item<bool>());
}

TEST(Projection, ValuesFollowTheTargetNames) {
  const auto& names = lora_target_names();
  ASSERT_EQ(names.size(), static_cast<size_t>(kProjectionCount));
  EXPECT_EQ(projection_name(Projection::Q), "q_proj");
  EXPECT_EQ(projection_name(Projection::O), "o_proj");
  EXPECT_EQ(projection_name(Projection::Down), "down_proj");
  for (int i = 0; i < kProjectionCount; ++i) {
    EXPECT_EQ(projection_of(names[static_cast<size_t>(i)]), static_cast<Projection>(i));
  }
  EXPECT_THROW((void)projection_of("lm_head"), std::logic_error);
  const auto path = parse_module_path(lora_module_path(5, "gate_proj"));
  EXPECT_EQ(path.layer, 5);
  EXPECT_EQ(path.target, "gate_proj");
  EXPECT_THROW((void)parse_module_path("model.layers.x.mlp.up_proj"), std::logic_error);
}

}  // namespace
}  // namespace mlxft
