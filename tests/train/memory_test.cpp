// The peak-memory estimate by part, on Mistral-7B's shape with the seed's LoRA (r16 on q, v).
#include "mlxft/train/memory.h"

#include <gtest/gtest.h>

#include "mlxft/model/init.h"
#include "mlxft/model/lora.h"

TEST(TrainMemory, Mistral7bSeedRecipeParts) {
  const mlxft::ModelConfig c = mlxft::preset_config("mistral-7b-shape", 32768);
  mlxft::LoraConfig lc;  // r16 alpha 32 on q_proj, v_proj of every layer
  const int64_t trainable = mlxft::init_lora(c, lc, 0).parameter_count();
  EXPECT_EQ(trainable, 6815744);
  const auto bf16 = mlxft::estimate_training_memory(c, 2, trainable, 2, 2048, false);
  EXPECT_NEAR(bf16.weights / 1e9, 14.5, 0.05);        // 7.25 B parameters x 2 bytes
  EXPECT_NEAR(bf16.adapter_state / 1e6, 136.3, 0.1);  // 6.8 M x 4 bytes x 5
  const auto ckpt = mlxft::estimate_training_memory(c, 2, trainable, 2, 2048, true);
  EXPECT_LT(ckpt.activations, bf16.activations / 5);  // checkpointing keeps one layer's activations
  EXPECT_GT(bf16.total(), 16e9);                      // the seed's "under 16 GB" does not hold in bf16
  EXPECT_GT(mlxft::machine_memory_bytes(), 0.0);
}
