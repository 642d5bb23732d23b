// write_model(): a sharded Hugging Face directory that load_model() reads back with the same random
// weights (init -> load round trip), and a non-empty --out refused and left alone.
#include "mlxft/export/random_model.h"

#include <gtest/gtest.h>

#include "mlxft/model/init.h"
#include "mlxft/model/llama.h"
#include "mlxft/model/weights.h"
#include "mlxft/util/error.h"
#include "support/test_support.h"

namespace mx = mlx::core;
namespace fs = std::filesystem;

namespace mlxft {
namespace {

using Weights = std::unordered_map<std::string, mx::array>;

TEST(ModelInit, WritesShardedHfLayoutThatLoadsBackIdentically) {
  MLXFT_REQUIRE_TOKENIZER();
  test::TempDir tmp;
  InitOptions o;
  o.config = preset_config("tiny", 0);
  o.tokenizer = test::v3_tokenizer();
  o.seed = 5;
  o.shard_size_mb = 1;  // embeddings (8.4 MB) | layers and norm (0.3 MB) | lm_head (8.4 MB)
  o.out = tmp / "model";
  const ModelConfig c = write_model(o);
  EXPECT_EQ(c.vocab_size, 32768);
  for (const char* f : {"config.json", "tokenizer.model", "tokenizer_config.json", "generation_config.json",
                        "model.safetensors.index.json", "model-00001-of-00003.safetensors",
                        "model-00003-of-00003.safetensors"}) {
    EXPECT_TRUE(fs::exists(o.out / f)) << f;
  }
  EXPECT_FALSE(fs::exists(o.out / "model.safetensors"));
  const Model m = load_model(o.out, mx::float32);
  EXPECT_EQ(m.config.parameter_count(), c.parameter_count());
  const Weights again = random_weights(c, 5, mx::float32);
  for (const auto& [name, w] : again) EXPECT_TRUE(mx::array_equal(m.weight(name), w).item<bool>()) << name;
  // std of a projection ~0.02, norms ones.
  EXPECT_NEAR(mx::std(m.weight("model.layers.0.mlp.up_proj.weight")).item<float>(), 0.02f, 0.002f);
  EXPECT_EQ(mx::min(m.weight("model.norm.weight")).item<float>(), 1.0f);

  // A non-empty --out is refused and left alone.
  try {
    write_model(o);
    FAIL() << "overwrote a model";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Usage);
  }
  EXPECT_TRUE(fs::exists(o.out / "config.json"));
}

}  // namespace
}  // namespace mlxft
