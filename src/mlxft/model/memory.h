// Peak-memory estimate of a LoRA training run, and the machine's memory.
//
// Contract: MemoryEstimate::total() adds five parts, in bytes; estimate_training_memory() gives four
// and leaves `cache` 0: the run sets it (app/settings.h run_memory_estimate()) to the freed buffers
// MLX's CPU cache will keep, min(the cache limit the run sets, activations): with examples of many
// lengths the cache fills to its limit (configs/smollm2-tools.yaml: 2.5 GB of a 6.4 GB peak RSS).
// The four:
//   runtime      = 0.05 GB the process holds besides MLX's arrays whatever the model: libraries' pages,
//                  thread stacks, OpenBLAS's and oneDNN's buffers, the tokenizer and the data (measured:
//                  44 MB with the tiny preset, the peak RSS less MLX's peak; docs/performance.md has
//                  the estimate against the measured peak RSS of each preset and SmolLM2 recipe);
//   weights      = every base parameter x the weights' dtype size (dtype_bytes; see the kernel and
//                  quantized terms below);
//   adapter state = trainable parameters x 4 bytes x 5 (the float32 adapters, the gradient of a
//                   micro-batch, the accumulated gradient, AdamW's m and v);
//   activations  = what the backward pass holds for one micro-batch of batch x seq tokens, per token:
//                  what each layer's forward saves (6 hidden + 3 q + 2 kv + 2 intermediate values,
//                  plus heads x seq attention scores) for every layer (with per-layer checkpointing:
//                  for the one layer being recomputed, plus per layer its input) and one layer's
//                  backward gradients (3 intermediate + 2
//                  hidden), in the weights' dtype; plus the LM head's loss: 3 float32 logits of vocab
//                  size per token (logits, softmax, their gradient).
// The CPU kernels a run uses (KernelPaths, from kernel_paths()) change three terms:
//   attention: the fused causal attention never holds the [B, H, T, T] scores (no score term);
//   head_ce:   the fused head + cross-entropy holds one chunk of logits (chunk_rows x vocab x 6
//              bytes), its float32 input and the hidden-state gradient it computes in the forward
//              (2 x [tokens, hidden] float32) instead of the [B, T, vocab] logits;
//   frozen_linear: float weights are copied once into the compute dtype where it differs from the
//              weights' (every projection and the head); quantized ones are dequantized per call
//              into one transient matrix (the largest projection or the head) instead of layers;
//              a packed head (head_is_packed(), llama.h) adds two copies of vocab x hidden in it,
//              packed projections (projections_are_packed()) two copies of the layers' projections,
//              and the quantized ones among them are dequantized once (kernel_layers_params x the
//              compute dtype's size, held) instead of per call; so is a packed quantized head
//              (kernel_head_params).
// With a quantized base (QuantizedBase, from quantized_base()), weights = the bytes the model holds
// (packed weights, scales, biases, float tensors) plus, where the CPU path without kernels
// dequantizes layers before use (linear.h), the float copies the backward pass keeps: one layer's
// quantized projections with per-layer checkpointing, every layer's without, and the head's; on the
// kernel path the same copies of the modules the kernel cannot take (3/5/6 bits, off_kernel_*).
// It is an estimate for a go/no-go check, not a measurement (bench/train_bench measures).
// machine_memory_bytes() is the physical memory (sysconf), 0 if unknown.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "mlxft/kernels/fused_head_ce.h"
#include "mlxft/model/config.h"
#include "mlxft/model/llama.h"

namespace mlxft {

struct MemoryEstimate {
  double weights = 0, adapter_state = 0, activations = 0, runtime = 0, cache = 0;
  double total() const { return weights + adapter_state + activations + runtime + cache; }
};

struct QuantizedBase {
  double stored = 0;                 // bytes of every weight as held (packed + scales + biases + floats)
  double largest_layer_float = 0;    // one layer's quantized projections dequantized, compute dtype
  double all_layers_float = 0;       // every layer's quantized projections dequantized, compute dtype
  double head_float = 0;             // the LM head (or tied embedding) dequantized, when quantized
  double largest_matrix_params = 0;  // elements of the largest quantized matrix (a projection or the head)
  double kernel_layers_params = 0;   // elements of the layers' quantized projections the kernel takes
  double kernel_head_params = 0;     // elements of the head (or tied embedding) when quantized, kernel bits
  bool dequantizes_on_use = true;    // the CPU path; false where quantized_matmul runs (GPU)
  // The same float bytes for the modules whose bit width the CPU kernel does not take (3, 5, 6 bits,
  // e.g. a GGUF's Q5_K/Q5_0): MLX's ops dequantize them, kernel path or not.
  double off_kernel_largest_layer = 0, off_kernel_all_layers = 0, off_kernel_head = 0;
};

// The CPU kernels a training run of a model goes through (all false off the kernel path).
struct KernelPaths {
  bool frozen_linear = false;  // frozen projections and the head on kernels::frozen_linear
  int compute_bytes = 0;       // their compute dtype's size (model.compute_dtype)
  bool attention = false;      // kernels::causal_attention
  bool head_ce = false;        // kernels::fused_head_ce
  bool head_packed = false;    // the head's weight also held in two packed copies (head_is_packed())
  bool projections_packed = false;  // so are the layers' projections (projections_are_packed())
  int head_chunk_rows = kernels::FusedHeadCEOptions{}.chunk_rows;  // its rows per logit block
};

// The quantized-base figures of a loaded model (nullopt when nothing is quantized).
std::optional<QuantizedBase> quantized_base(const Model& model);

// The kernels a training run of `model` uses on this device and build.
KernelPaths kernel_paths(const Model& model);

MemoryEstimate estimate_training_memory(const ModelConfig& model, int dtype_bytes, int64_t trainable_params,
                                        int batch_size, int seq_len, bool checkpoint_layers,
                                        const std::optional<QuantizedBase>& quantized = {},
                                        const KernelPaths& kernels = {});

double machine_memory_bytes();

// model.pack_weights for a training run: "always", "never", or "auto": pack when the run's estimate with
// the packed copies (`estimate_packed`, bytes) stays within `fraction` of `budget_bytes` (the fraction
// at which the memory check warns; an unknown budget, 0, never packs).
bool pack_weights_for_run(const std::string& choice, double estimate_packed, double budget_bytes,
                          double fraction);

}  // namespace mlxft
