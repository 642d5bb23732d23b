// choose_weight_packing() (app/settings.h): the run's model.pack_weights always / never as said; auto packs
// the projections only while the run's estimate with their packed copies stays under the warning fraction of
// the budget (here system.memory_limit_gb, set below and above the tiny run's estimate); nothing is packed
// where packing does not apply (float32 compute); the model it reads is left as it was.
#include <gtest/gtest.h>

#include "mlxft/app/settings.h"
#include "mlxft/model/init.h"
#include "mlxft/util/cpu_features.h"

namespace mx = mlx::core;

namespace mlxft {
namespace {

struct TinySetup {
  Model model;
  LoraAdapters adapters;
  Split split;
  TrainerSettings settings;
};

TinySetup tiny_setup() {
  TinySetup s;
  s.model.config = preset_config("tiny", 300);
  s.model.weights = random_weights(s.model.config, 3, mx::float32);
  s.model.compute_dtype = mx::bfloat16;
  s.adapters = init_lora(s.model.config, LoraConfig{}, 1);
  Example e;
  e.ids.assign(64, 5);
  e.mask.assign(64, 1);
  s.split.train = {e, e};
  return s;
}

bool packed_with(const std::string& choice, double limit_gb, mx::Dtype compute = mx::bfloat16) {
  TinySetup s = tiny_setup();
  s.model.compute_dtype = compute;
  Recipe r;
  r.model.pack_weights = choice;
  r.system.memory_limit_gb = limit_gb;
  const bool pack = choose_weight_packing(r, s.model, s.adapters, s.split, s.settings);
  EXPECT_FALSE(s.model.pack_weights);  // the decision is the run's; the model is not changed
  return pack;
}

TEST(WeightPacking, FollowsTheRecipeAndTheBudget) {
  if (!have_onednn()) GTEST_SKIP() << "no oneDNN: nothing is packed";
  EXPECT_TRUE(packed_with("auto", 16.0));    // a tiny run: far under 90 % of 16 GB
  EXPECT_FALSE(packed_with("auto", 1e-6));   // a 1 kB budget: the copies do not fit
  EXPECT_TRUE(packed_with("always", 1e-6));  // the user's word wins (the memory check may still stop it)
  EXPECT_FALSE(packed_with("never", 16.0));
  EXPECT_FALSE(packed_with("always", 16.0, mx::float32));  // packing is a bfloat16-compute choice
}

}  // namespace
}  // namespace mlxft
