// build_adapters(): training.init_adapter starts the run from that adapter (e.g. an SFT run's, for
// KTO), and --init-adapter, when given, wins over it.
#include "mlxft/app/inputs.h"

#include <gtest/gtest.h>

#include "mlxft/adapters/adapter_io.h"
#include "support/test_support.h"

namespace mx = mlx::core;

namespace mlxft {
namespace {

TEST(BuildAdapters, TrainingInitAdapterStartsFromThatAdapterAndTheFlagWins) {
  const auto golden = test::source_dir() / "tests" / "golden" / "peft_grads";
  const Model model = load_model(golden / "model", mx::float32);
  Recipe r;
  r.lora.dropout = 0.0;
  const LoraAdapters fresh = build_adapters(r, model, "");
  EXPECT_EQ(fresh.config.rank, r.lora.rank);  // no init_adapter: a new LoRA from the recipe

  r.training.init_adapter = (golden / "adapter").string();
  const LoraAdapters started = build_adapters(r, model, "");
  const LoraAdapters want = load_adapter(golden / "adapter");
  EXPECT_EQ(started.config.rank, 4);
  const std::vector<mx::array> a = started.flatten(), b = want.flatten();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(mx::array_equal(a[i], b[i]).item<bool>()) << i;

  EXPECT_THROW((void)build_adapters(r, model, (golden / "no-such-adapter").string()), std::exception);
}

}  // namespace
}  // namespace mlxft
