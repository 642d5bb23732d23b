// The adapted projection of AdapterKind::lora: the forward, the merge and the init are the LoRA
// formulas (bit for bit what the callers computed before the seam), and its tensor names.
#include "mlxft/model/adapted_linear.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "mlxft/model/lora_branch.h"

namespace mx = mlx::core;

namespace mlxft {
namespace {

bool bit_equal(const mx::array& a, const mx::array& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  mx::array ca = mx::contiguous(a), cb = mx::contiguous(b);
  mx::eval(ca, cb);
  return std::memcmp(ca.data<void>(), cb.data<void>(), ca.nbytes()) == 0;
}

struct Fixture {
  LoraConfig config;
  LoraPair pair{mx::random::normal({4, 6}, mx::float32, mx::random::key(2)),
                mx::random::normal({5, 4}, mx::float32, mx::random::key(3))};
  mx::array x = mx::random::normal({2, 3, 6}, mx::float32, mx::random::key(1));
  mx::array y = mx::random::normal({2, 3, 5}, mx::float32, mx::random::key(4));
  FrozenWeight w{mx::random::normal({5, 6}, mx::float32, mx::random::key(5))};  // LoRA does not read it
  Fixture() {
    config.rank = 4;
    config.alpha = 8.0f;
  }
};

TEST(AdaptedLinear, LoraForwardIsLoraAdd) {
  Fixture f;
  EXPECT_TRUE(bit_equal(adapted_linear(f.y, f.x, f.w, f.pair, f.config, std::nullopt),
                        lora_add(f.y, f.x, f.pair.a, f.pair.b, f.config.scale())));
}

TEST(AdaptedLinear, LoraDropoutIsInvertedAndKeyed) {
  Fixture f;
  f.config.dropout = 0.25f;
  const mx::array key = mx::random::key(9);
  const mx::array keep = mx::random::bernoulli(mx::array(0.75f), f.x.shape(), key);
  const mx::array xd = mx::multiply(f.x, mx::astype(keep, mx::float32)) * mx::array(1.0f / 0.75f);
  EXPECT_TRUE(bit_equal(adapted_linear(f.y, f.x, f.w, f.pair, f.config, key),
                        lora_add(f.y, xd, f.pair.a, f.pair.b, f.config.scale())));
}

TEST(AdaptedLinear, LoraMergeIsWPlusScaledBA) {
  Fixture f;
  const mx::array w = mx::random::normal({5, 6}, mx::float32, mx::random::key(5));
  const mx::array want = mx::add(w, mx::multiply(mx::array(2.0f), mx::matmul(f.pair.b, f.pair.a)));
  EXPECT_TRUE(bit_equal(merged_weight(w, f.pair, f.config), want));
}

TEST(AdaptedLinear, LoraInitIsUniformAAndZeroB) {
  Fixture f;
  const LoraPair p = initial_adapter(f.config, 6, 5, mx::random::key(7), {});
  EXPECT_FALSE(p.magnitude.has_value());
  EXPECT_EQ(p.a.shape(), (mx::Shape{4, 6}));
  EXPECT_EQ(p.b.shape(), (mx::Shape{5, 4}));
  EXPECT_LE(mx::max(mx::abs(p.a)).item<float>(), 1.0f / std::sqrt(6.0f));
  EXPECT_EQ(mx::max(mx::abs(p.b)).item<float>(), 0.0f);
  EXPECT_TRUE(bit_equal(p.a, mx::random::uniform(-1.0f / std::sqrt(6.0f), 1.0f / std::sqrt(6.0f), {4, 6},
                                                 mx::float32, mx::random::key(7))));
}

TEST(AdaptedLinear, LoraTensorNamesFollowArraysOrder) {
  const auto& names = adapter_tensors(AdapterKind::lora);
  ASSERT_EQ(names.size(), 2u);
  EXPECT_EQ(names[0].peft, "lora_A");
  EXPECT_EQ(names[0].peft_file, "lora_A.weight");
  EXPECT_EQ(names[1].peft, "lora_B");
  EXPECT_EQ(names[0].mlx_lm, "lora_a");
  EXPECT_EQ(names[1].gguf, "lora_b");
  EXPECT_EQ(adapter_kind_name(AdapterKind::lora), "lora");
  EXPECT_EQ(adapter_kind_named("lora"), AdapterKind::lora);
  EXPECT_FALSE(adapter_kind_named("qlora").has_value());
  Fixture f;
  LoraPair copy = f.pair;
  std::vector<mx::array> flat = {f.pair.b, f.pair.a};
  EXPECT_EQ(copy.assign(flat, 0), 2u);
  EXPECT_TRUE(bit_equal(copy.arrays()[0], f.pair.b));
  EXPECT_TRUE(bit_equal(copy.arrays()[1], f.pair.a));
}

}  // namespace
}  // namespace mlxft
