// Peak-memory estimate of a LoRA training run, and the machine's memory.
//
// Contract: estimate_training_memory() adds three parts, in bytes:
//   weights      = every base parameter x the compute dtype's size;
//   adapter state = trainable parameters x 4 bytes x 5 (the float32 adapters, the gradient of a
//                   micro-batch, the accumulated gradient, AdamW's m and v);
//   activations  = what the backward pass keeps for one micro-batch of batch x seq tokens: per layer
//                  and token, about 4 hidden + 2 q + 2 kv + 4 intermediate values plus
//                  heads x seq attention scores (none with fused_attention: the CPU kernel,
//                  fused_attention_active() in model/llama.h, never holds them), in the compute dtype (with per-layer checkpointing:
//                  one hidden vector per layer plus one layer's full set), plus 3 float32 logits of
//                  vocab size per token (logits, softmax, their gradient).
// With a quantized base (QuantizedBase, from quantized_base()), weights = the bytes the model holds
// (packed weights, scales, biases, float tensors) plus, where the CPU path dequantizes layers
// before use (linear.h), the float copies the backward pass keeps: one layer's quantized
// projections with per-layer checkpointing, every layer's without, and the head's.
// It is an estimate for a go/no-go check, not a measurement (bench/train_bench measures).
// machine_memory_bytes() is the physical memory (sysconf), 0 if unknown.
#pragma once

#include <cstdint>
#include <optional>

#include "mlxft/model/config.h"
#include "mlxft/model/llama.h"

namespace mlxft {

struct MemoryEstimate {
  double weights = 0, adapter_state = 0, activations = 0;
  double total() const { return weights + adapter_state + activations; }
};

struct QuantizedBase {
  double stored = 0;               // bytes of every weight as held (packed + scales + biases + floats)
  double largest_layer_float = 0;  // one layer's quantized projections dequantized, compute dtype
  double all_layers_float = 0;     // every layer's quantized projections dequantized, compute dtype
  double head_float = 0;           // the LM head (or tied embedding) dequantized, when quantized
  bool dequantizes_on_use = true;  // the CPU path; false where quantized_matmul runs (GPU)
};

// The quantized-base figures of a loaded model (nullopt when nothing is quantized).
std::optional<QuantizedBase> quantized_base(const Model& model);

MemoryEstimate estimate_training_memory(const ModelConfig& model, int dtype_bytes, int64_t trainable_params,
                                        int batch_size, int seq_len, bool checkpoint_layers,
                                        const std::optional<QuantizedBase>& quantized = {},
                                        bool fused_attention = false);

double machine_memory_bytes();

}  // namespace mlxft
