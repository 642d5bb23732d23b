// The peak-memory estimate by part, on Mistral-7B's shape with the seed's LoRA (r16 on q, v).
#include "mlxft/model/memory.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "mlxft/model/init.h"
#include "mlxft/model/lora.h"

TEST(TrainMemory, Mistral7bSeedRecipeParts) {
  const mlxft::ModelConfig c = mlxft::preset_config("mistral-7b-shape", 32768);
  mlxft::LoraConfig lc;  // r16 alpha 32 on q_proj, v_proj of every layer
  const int64_t trainable = mlxft::init_lora(c, lc, 0).parameter_count();
  // 32 layers x rank 16 x (q_proj: A [16, 4096] + B [4096, 16], v_proj: A [16, 4096] + B [1024, 16],
  // 1024 = 8 KV heads x head_dim 128) = 32 * 16 * (2 * 4096 + 4096 + 1024) = 6815744.
  EXPECT_EQ(trainable, 32 * 16 * (2 * 4096 + 4096 + 1024));
  EXPECT_EQ(trainable, 6815744);
  const auto bf16 = mlxft::estimate_training_memory(c, 2, trainable, 2, 2048, false);
  EXPECT_NEAR(bf16.weights / 1e9, 14.5, 0.05);        // 7.25 B parameters x 2 bytes
  EXPECT_NEAR(bf16.adapter_state / 1e6, 136.3, 0.1);  // 6.8 M x 4 bytes x 5
  const auto ckpt = mlxft::estimate_training_memory(c, 2, trainable, 2, 2048, true);
  EXPECT_LT(ckpt.activations, bf16.activations / 5);  // checkpointing keeps one layer's activations
  EXPECT_GT(bf16.total(), 16e9);                      // the seed's "under 16 GB" does not hold in bf16
  EXPECT_DOUBLE_EQ(bf16.runtime, 0.05e9);              // the process besides MLX's arrays, any model
  EXPECT_DOUBLE_EQ(bf16.total(), bf16.weights + bf16.adapter_state + bf16.activations + 0.05e9);
  // The fused CPU attention holds no [B, H, T, S] scores: one layer's 2 x 2048 x 32 x 2048 bf16 fewer.
  const auto fused =
      mlxft::estimate_training_memory(c, 2, trainable, 2, 2048, true, std::nullopt, {.attention = true});
  EXPECT_DOUBLE_EQ(ckpt.activations - fused.activations, 2.0 * 2048 * 32 * 2048 * 2);
  EXPECT_EQ(fused.weights, ckpt.weights);
  // Two more bytes per value: one layer's saved values and backward gradients (6 + 2 hidden, 3 q, 2 kv,
  // 2 + 3 intermediate, 32 heads x 2048 scores per token) and each of the 32 checkpointed inputs.
  const auto ckpt_f32 = mlxft::estimate_training_memory(c, 4, trainable, 2, 2048, true);
  const double per_token = 8.0 * 4096 + 3.0 * 4096 + 2.0 * 1024 + 5.0 * 14336 + 32.0 * 2048;
  EXPECT_DOUBLE_EQ(ckpt_f32.activations - ckpt.activations, 4096.0 * (per_token + 32.0 * 4096) * 2);
  // The fused head + CE holds one 256-row float32 chunk of logits (x 1.5 for its bf16 gradient), its
  // float32 input and hidden-state gradient ([4096, 4096] each) instead of 3 float32 [4096, 32768] logits.
  const auto head = mlxft::estimate_training_memory(c, 2, trainable, 2, 2048, true, std::nullopt,
                                                    {.attention = true, .head_ce = true});
  EXPECT_DOUBLE_EQ(fused.activations - head.activations,
                   4096.0 * 32768 * 12 - (4096.0 * 4096 * 8 + 256.0 * 32768 * 6));
}

// With per-layer checkpointing each further layer holds only its input (batch x seq hidden vectors in the
// weights' dtype): measured by bench/train_bench --layers since the LoRA branch frees its inputs early.
TEST(TrainMemory, ACheckpointedLayerHoldsItsInput) {
  mlxft::ModelConfig c = mlxft::preset_config("mistral-7b-shape", 32768);
  const auto full = mlxft::estimate_training_memory(c, 2, 0, 2, 2048, true);
  c.num_hidden_layers = 16;
  const auto half = mlxft::estimate_training_memory(c, 2, 0, 2, 2048, true);
  EXPECT_DOUBLE_EQ(full.activations - half.activations, 16.0 * 4096 * 4096 * 2);
}

// Float weights on kernels of another compute dtype are held twice: as loaded and as the kernels'
// copy (every projection and the head; not the norms, not an untied embedding).
TEST(TrainMemory, KernelCopiesInAnotherComputeDtypeAreCounted) {
  const mlxft::ModelConfig c = mlxft::preset_config("small", 32768);
  const double params = static_cast<double>(c.parameter_count());
  const auto same = mlxft::estimate_training_memory(c, 4, 0, 1, 16, false, std::nullopt,
                                                    {.frozen_linear = true, .compute_bytes = 4});
  EXPECT_DOUBLE_EQ(same.weights, params * 4);
  const auto bf16 = mlxft::estimate_training_memory(c, 4, 0, 1, 16, false, std::nullopt,
                                                    {.frozen_linear = true, .compute_bytes = 2});
  const double norms = (2.0 * c.num_hidden_layers + 1) * c.hidden_size;
  const double untied = c.tie_word_embeddings ? 0.0 : static_cast<double>(c.vocab_size) * c.hidden_size;
  EXPECT_DOUBLE_EQ(bf16.weights, params * 4 + (params - norms - untied) * 2);
  // A packed head (head_is_packed()) holds two more copies of vocab x hidden in the compute dtype.
  const auto packed = mlxft::estimate_training_memory(
      c, 4, 0, 1, 16, false, std::nullopt, {.frozen_linear = true, .compute_bytes = 2, .head_packed = true});
  EXPECT_DOUBLE_EQ(packed.weights - bf16.weights, 2.0 * c.vocab_size * c.hidden_size * 2);
  // Packed projections (projections_are_packed()) two more copies of every layer's projections:
  // 4 attention (q, o: E x E; k, v: E x kv) and 3 MLP (E x F) matrices a layer.
  const auto layers = mlxft::estimate_training_memory(
      c, 4, 0, 1, 16, false, std::nullopt,
      {.frozen_linear = true, .compute_bytes = 2, .projections_packed = true});
  const double E = c.hidden_size, kv = static_cast<double>(c.num_key_value_heads) * c.head_dim;
  const double per_layer =
      2.0 * E * c.num_attention_heads * c.head_dim + 2.0 * E * kv + 3.0 * E * c.intermediate_size;
  EXPECT_DOUBLE_EQ(layers.weights - bf16.weights, 2.0 * c.num_hidden_layers * per_layer * 2);
}

// model.pack_weights: always and never as said; auto packs when the estimate with the packed copies stays
// within the fraction of the budget, and never when the budget is unknown (0).
TEST(TrainMemory, PackWeightsAutoPacksOnlyWhatFits) {
  EXPECT_TRUE(mlxft::pack_weights_for_run("always", 100e9, 10e9, 0.9));
  EXPECT_FALSE(mlxft::pack_weights_for_run("never", 1e9, 10e9, 0.9));
  EXPECT_TRUE(mlxft::pack_weights_for_run("auto", 9e9, 10e9, 0.9));
  EXPECT_FALSE(mlxft::pack_weights_for_run("auto", 9.1e9, 10e9, 0.9));
  EXPECT_FALSE(mlxft::pack_weights_for_run("auto", 1e9, 0.0, 0.9));
}

// The machine's memory is /proc/meminfo's MemTotal (Linux), the number `free` shows.
TEST(TrainMemory, MachineMemoryIsMemTotal) {
  std::ifstream meminfo("/proc/meminfo");
  if (!meminfo) GTEST_SKIP() << "no /proc/meminfo on this platform";
  std::string key;
  double kib = 0;
  while (meminfo >> key && key != "MemTotal:") meminfo.ignore(1 << 10, '\n');
  ASSERT_TRUE(meminfo >> kib);
  EXPECT_NEAR(mlxft::machine_memory_bytes(), kib * 1024.0, 0.01 * kib * 1024.0);
}

// A quantized base counts its packed weights, scales and biases, and on the CPU the float copies
// the dequantize-before-use path keeps for the backward pass (one layer with checkpointing).
TEST(TrainMemory, QuantizedBaseCountsPackedBytesAndDequantizedCopies) {
  mlxft::Model m;
  m.config = mlxft::preset_config("tiny", 256);
  m.weights = mlxft::random_weights(m.config, 1, mlx::core::float32);
  EXPECT_FALSE(mlxft::quantized_base(m).has_value());
  const double float_bytes = static_cast<double>(m.config.parameter_count()) * 4.0;
  m.quantization = mlxft::quantize_weights(m.weights, m.config, mlxft::QuantSpec{4, 32});
  const auto q = mlxft::quantized_base(m);
  ASSERT_TRUE(q.has_value());
  // 4 bits + a float32 scale and bias per 32 weights = 6 bits per quantized weight; norms stay float32.
  const double quantized_params = static_cast<double>(m.config.parameter_count() - 5 * 64);
  EXPECT_DOUBLE_EQ(q->stored, quantized_params * 6.0 / 8.0 + 5 * 64 * 4.0);
  EXPECT_DOUBLE_EQ(q->head_float, 256.0 * 64 * 4);  // lm_head [256, 64] (tiny is untied)
  EXPECT_DOUBLE_EQ(q->largest_layer_float, (2.0 * 64 * 64 + 2.0 * 32 * 64 + 3.0 * 128 * 64) * 4);
  EXPECT_DOUBLE_EQ(q->all_layers_float, 2 * q->largest_layer_float);
  EXPECT_DOUBLE_EQ(q->largest_matrix_params, 256.0 * 64);  // the head is tiny's largest matrix
  auto cpu = *q;
  cpu.dequantizes_on_use = true;
  const auto ckpt = mlxft::estimate_training_memory(m.config, 4, 1000, 1, 16, true, cpu);
  const auto full = mlxft::estimate_training_memory(m.config, 4, 1000, 1, 16, false, cpu);
  EXPECT_DOUBLE_EQ(ckpt.weights, q->stored + q->head_float + q->largest_layer_float);
  EXPECT_DOUBLE_EQ(full.weights, q->stored + q->head_float + q->all_layers_float);
  auto gpu = *q;
  gpu.dequantizes_on_use = false;
  EXPECT_DOUBLE_EQ(mlxft::estimate_training_memory(m.config, 4, 1000, 1, 16, true, gpu).weights, q->stored);
  // On the CPU kernels one matrix at a time is dequantized, into the compute dtype, and not kept.
  const mlxft::KernelPaths kernels{.frozen_linear = true, .compute_bytes = 2};
  EXPECT_DOUBLE_EQ(mlxft::estimate_training_memory(m.config, 4, 1000, 1, 16, false, cpu, kernels).weights,
                   q->stored + 256.0 * 64 * 2);
  // Packed projections: the layers' quantized ones dequantized once and held, plus their two packed
  // copies (the head is still dequantized per call).
  EXPECT_DOUBLE_EQ(q->kernel_layers_params, q->all_layers_float / 4);
  auto packed = kernels;
  packed.projections_packed = true;
  EXPECT_DOUBLE_EQ(mlxft::estimate_training_memory(m.config, 4, 1000, 1, 16, false, cpu, packed).weights,
                   q->stored + 256.0 * 64 * 2 + 3 * q->kernel_layers_params * 2);
  // and a packed quantized head (head_is_packed() with pack_weights): dequantized once, two packed copies
  EXPECT_DOUBLE_EQ(q->kernel_head_params, 256.0 * 64);
  packed.head_packed = true;
  EXPECT_DOUBLE_EQ(mlxft::estimate_training_memory(m.config, 4, 1000, 1, 16, false, cpu, packed).weights,
                   q->stored + 256.0 * 64 * 2 + 3 * (q->kernel_layers_params + q->kernel_head_params) * 2);
  EXPECT_LT(q->stored, float_bytes / 4);
}
