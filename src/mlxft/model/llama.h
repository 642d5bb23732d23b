// The decoder of every family (model/family.h: Llama, Mistral, Qwen2, Qwen3, Gemma 3, Phi-3): a loaded model
// and its forward pass.
//
// Contract: load_model() resolves the path (source.h) and reads a Hugging Face
// directory (config.json + weights checked by load_weights), an MLX-quantized
// directory (the same, with the triplets its config.json "quantization" names)
// or a .gguf file (load_gguf_model). Float weights are cast to the compute
// dtype: the one asked for, else float32 on CPU and bfloat16 on a GPU.
// Quantized modules stay quantized as they are stored (quant.h), with their
// spec in `quantization`; `quantize` quantizes the float ones at load
// (quantize_weights). The embedding of a quantized embedding gathers packed
// rows and dequantizes them; a quantized tied head uses the same triplet. forward() maps
// int32 token ids [B, T] to float32 logits [B, T, V], exactly as transformers'
// MistralForCausalLM / LlamaForCausalLM / Qwen2ForCausalLM / Qwen3ForCausalLM /
// Gemma3ForCausalLM / Phi3ForCausalLM do (RoPE in the rotate-half convention; the family's row
// says where the block differs from Llama's; Gemma's sliding layers mask keys
// outside their window, in the cache too). It is a pure function of the weights, the adapters and the
// options, differentiable with respect to the LoRA arrays (the trainer wraps it
// in mx::value_and_grad; base weights are constants). With a KVCache it
// appends this call's keys/values and starts positions at cache->offset, so a
// prompt can be fed in one pass and then one token at a time.
// forward() = lm_head(forward_hidden()): the split lets a fused head + loss
// kernel take the final hidden states. Every frozen projection goes through
// frozen_linear() (linear.h).
// Kernels: the forward calls the ops of kernels/ (rms_norm, rope_heads, self_attention, swiglu,
// frozen_linear), each of which picks its CPU kernel or MLX's own op by the stream it runs on and
// kernels/switches.h. Where the CPU kernels run on the default stream (cpu_kernels_apply()), the frozen
// projections and the LM head (float, or quantized and dequantized per call, except for a few rows, or
// once where the projections are packed: projections_are_packed())
// get kernel weights prepared once, lazily, in the Model's kernel_dtype() (compute_dtype, else the
// weights' dtype) and held by the Model's KernelWeightCache (shared by copies of the Model); the
// attention's block products are bfloat16 where kernel_dtype() is bfloat16. kernel_weight() is null
// elsewhere.
#pragma once

#include <mlx/mlx.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "mlxft/model/config.h"
#include "mlxft/model/linear.h"
#include "mlxft/model/lora.h"
#include "mlxft/model/quant.h"

namespace mlxft {

struct Model {
  ModelConfig config;
  std::unordered_map<std::string, mlx::core::array> weights;  // HF names; floats in `dtype`
  mlx::core::Dtype dtype = mlx::core::float32;                // compute dtype
  std::filesystem::path dir;                                  // the directory or .gguf file
  QuantMap quantization;  // quantized modules: "<m>.weight" packed, "<m>.scales"/".biases" as stored
  // Dtype of the frozen matmuls on the CPU kernels (model.compute_dtype); nullopt: `dtype`.
  std::optional<mlx::core::Dtype> compute_dtype;
  std::shared_ptr<KernelWeightCache> kernel_cache = std::make_shared<KernelWeightCache>();
  // Keep every float frozen projection in oneDNN's blocked layouts too (model.pack_weights; two more
  // copies of each in the compute dtype): see projections_are_packed().
  bool pack_weights = false;

  const mlx::core::array& weight(const std::string& name) const;  // throws std::out_of_range if absent
  mlx::core::Dtype kernel_dtype() const { return compute_dtype.value_or(dtype); }
};

// The CPU kernel weight of the weight `name` (float, or a quantized module's packed weight), made on
// first use; null when the kernels do not apply (cpu_kernels_apply() false).
kernels::FrozenLinearWeightPtr kernel_weight(const Model& model, const std::string& name);
// Whether kernel_weight() gives kernels for this model at all (cache, CPU kernels on the default
// stream (kernels/switches.h), compute dtype float32 or bfloat16): the one owner of that condition.
bool cpu_kernels_apply(const Model& model);
// Whether attention runs through the fused CPU kernel (kernels/causal_attention.h), which never holds the
// [B, H, T, S] scores: kernels::fused_attention_runs_on() the default stream.
bool fused_attention_active();
// "lm_head.weight", or the embedding matrix's name when tied.
std::string lm_head_name(const Model& model);
// Whether the LM head's kernel weight is also kept in oneDNN's blocked layouts for both of its products
// (logits and the hidden-state gradient; two more copies of the head): a float head in bfloat16 compute,
// where oneDNN would otherwise re-block the plain layouts on every call (docs/performance.md); a
// quantized head only where the run packs its projections (pack_weights), then dequantized once too.
bool head_is_packed(const Model& model);
// Whether the layers' projections can be packed the same way: bfloat16 compute on the CPU kernels, for
// 2 x 2 bytes a parameter (the gain: docs/performance.md); a quantized projection is then dequantized
// once (2 bytes a parameter more) instead of on every call (KernelWeightCache::get_quantized()).
bool projections_can_be_packed(const Model& model);
// Whether they are: pack_weights set (the run's choice) and projections_can_be_packed().
bool projections_are_packed(const Model& model);

// For inference with adapters that no longer change (generate, eval, logits): a DoRA adapter's row norms
// (LoraPair::fixed_norm) computed once from the model's weights, evaluated; nothing for LoRA. The
// adapted output is the same; a decoding step no longer recomputes W + scale B A.
void fix_dora_norms(LoraAdapters& adapters, const Model& model);

// Loads and evaluates the weights; `dtype` overrides the default compute dtype; `quantize`
// quantizes the float projections/embedding/head at load.
Model load_model(const std::filesystem::path& path, std::optional<mlx::core::Dtype> dtype = {},
                 std::optional<QuantSpec> quantize = {});

// Per-layer keys/values [B, n_kv_heads, capacity, head_dim], filled by forward(): positions before
// offset are cached, the rest (capacity >= offset, whole steps of 256) is room for the next tokens.
// left_pad (batched generation of prompts of different lengths): row b's first left_pad[b] positions
// are padding that no other position attends to. RoPE depends only on relative positions, so a row
// shifted right by its padding gets the logits it would get alone. Empty: no padding.
struct KVCache {
  std::vector<mlx::core::array> keys, values;
  int offset = 0;  // positions already cached
  std::vector<int> left_pad;
};

struct ForwardOptions {
  const LoraAdapters* lora = nullptr;
  bool train = false;                           // enables LoRA dropout (with dropout_key)
  std::optional<mlx::core::array> dropout_key;  // mx::random key; the same key gives the same masks
  bool checkpoint_layers = false;               // recompute each block in the backward pass (no cache)
};

// tokens: int32 [B, T] -> the final hidden states [B, T, hidden] after the last norm, in the
// compute dtype.
mlx::core::array forward_hidden(const Model& model, const mlx::core::array& tokens,
                                const ForwardOptions& options = {}, KVCache* cache = nullptr);
// hidden [B, T, hidden] -> float32 logits [B, T, vocab] (the embedding matrix when tied).
mlx::core::array lm_head(const Model& model, const mlx::core::array& hidden);
// tokens: int32 [B, T] -> float32 logits [B, T, vocab].
mlx::core::array forward(const Model& model, const mlx::core::array& tokens,
                         const ForwardOptions& options = {}, KVCache* cache = nullptr);

}  // namespace mlxft
