#include "mlxft/model/memory.h"

#include <unistd.h>

#include <algorithm>
#include <map>
#include <string>

namespace mx = mlx::core;

namespace mlxft {

std::optional<QuantizedBase> quantized_base(const Model& model) {
  if (model.quantization.empty()) return std::nullopt;
  QuantizedBase q;
  for (const auto& [name, w] : model.weights) q.stored += static_cast<double>(w.nbytes());
  std::map<int, double> per_layer, off_kernel;  // layer -> float bytes of its quantized projections
  const double float_bytes = static_cast<double>(mx::size_of(model.dtype));
  for (const auto& [module, spec] : model.quantization) {
    const mx::array& s = model.weight(module + ".scales");
    const double params = static_cast<double>(s.shape(0)) * s.shape(1) * spec.group_size;
    const double bytes = params * float_bytes;
    const bool kernel_bits = spec.bits == 2 || spec.bits == 4 || spec.bits == 8;  // linear.h
    q.largest_matrix_params = std::max(q.largest_matrix_params, params);
    if (module.starts_with("model.layers.")) {
      per_layer[std::stoi(module.substr(13))] += bytes;
      q.all_layers_float += bytes;
      if (kernel_bits) {
        q.kernel_layers_params += params;
      } else {
        off_kernel[std::stoi(module.substr(13))] += bytes;
        q.off_kernel_all_layers += bytes;
      }
    } else if (module == "lm_head" || model.config.tie_word_embeddings) {
      q.head_float = bytes;  // a quantized embedding alone is only gathered row by row
      if (kernel_bits) q.kernel_head_params = params;
      else q.off_kernel_head = bytes;
    }
  }
  for (const auto& [layer, bytes] : per_layer) q.largest_layer_float = std::max(q.largest_layer_float, bytes);
  for (const auto& [layer, bytes] : off_kernel)
    q.off_kernel_largest_layer = std::max(q.off_kernel_largest_layer, bytes);
  q.dequantizes_on_use = mx::default_device() == mx::Device::cpu;
  return q;
}

KernelPaths kernel_paths(const Model& model) {
  KernelPaths k;
  k.frozen_linear = cpu_kernels_apply(model);
  if (!k.frozen_linear) return k;
  k.compute_bytes = static_cast<int>(mx::size_of(model.kernel_dtype()));
  k.attention = fused_attention_active();
  k.head_ce = true;  // the objectives take the fused head + CE wherever the head has a kernel weight
  k.head_packed = head_is_packed(model);
  k.projections_packed = projections_are_packed(model);
  return k;
}

namespace {

// Bytes of the frozen weights as a run holds them, before packed copies (see the header's weights term).
double held_weight_bytes(const ModelConfig& m, int dtype_bytes, bool checkpoint_layers,
                         const std::optional<QuantizedBase>& quantized, const KernelPaths& k) {
  const double params = static_cast<double>(m.parameter_count());
  if (!quantized) {
    if (!k.frozen_linear || k.compute_bytes == dtype_bytes) return params * dtype_bytes;
    // Every projection and the head copied into the compute dtype; the norms and an untied
    // embedding (gathered, never multiplied) are not.
    const double copied = static_cast<double>(m.projection_parameter_count()) +
                          static_cast<double>(m.vocab_size) * m.hidden_size;
    return params * dtype_bytes + copied * k.compute_bytes;
  }
  if (!quantized->dequantizes_on_use) return quantized->stored;
  if (k.frozen_linear) {
    const double once = ((k.projections_packed ? quantized->kernel_layers_params : 0.0) +
                         (k.head_packed ? quantized->kernel_head_params : 0.0)) *
                        k.compute_bytes;
    return quantized->stored + once + quantized->largest_matrix_params * k.compute_bytes +
           quantized->off_kernel_head +
           (checkpoint_layers ? quantized->off_kernel_largest_layer : quantized->off_kernel_all_layers);
  }
  return quantized->stored + quantized->head_float +
         (checkpoint_layers ? quantized->largest_layer_float : quantized->all_layers_float);
}

double weight_bytes(const ModelConfig& m, int dtype_bytes, bool checkpoint_layers,
                    const std::optional<QuantizedBase>& quantized, const KernelPaths& k) {
  const double head = static_cast<double>(m.vocab_size) * m.hidden_size;
  const double projections = static_cast<double>(m.projection_parameter_count());
  const double packed = (k.head_packed ? 2.0 * head : 0.0) + (k.projections_packed ? 2.0 * projections : 0.0);
  return held_weight_bytes(m, dtype_bytes, checkpoint_layers, quantized, k) + packed * k.compute_bytes;
}

}  // namespace

MemoryEstimate estimate_training_memory(const ModelConfig& m, int dtype_bytes, int64_t trainable_params,
                                        int batch_size, int seq_len, bool checkpoint_layers,
                                        const std::optional<QuantizedBase>& quantized, const KernelPaths& k) {
  MemoryEstimate e;
  e.runtime = 0.05e9;
  e.weights = weight_bytes(m, dtype_bytes, checkpoint_layers, quantized, k);
  e.adapter_state = static_cast<double>(trainable_params) * 4.0 * 5.0;
  const double tokens = static_cast<double>(batch_size) * seq_len;
  const double E = m.hidden_size, F = m.intermediate_size;
  const double q = static_cast<double>(m.num_attention_heads) * m.head_dim;
  const double kv = static_cast<double>(m.num_key_value_heads) * m.head_dim;
  // What one layer's forward keeps for the backward (2 norms' outputs, the residual, q, k, v, the
  // attention output and its row-major copy, gate, up; the scores without the fused attention), and
  // the gradients alive at once in one layer's backward (swiglu's, gate's, up's, 2 of the hidden size).
  const double saved = 6.0 * E + 3.0 * q + 2.0 * kv + 2.0 * F +
                       (k.attention ? 0.0 : static_cast<double>(m.num_attention_heads) * seq_len);
  const double backward = 3.0 * F + 2.0 * E;
  const double layers = checkpoint_layers ? 1.0 : static_cast<double>(m.num_hidden_layers);
  // Per checkpointed layer: its input, in the weights' dtype (measured, bench/train_bench --layers:
  // 1.0 input a layer on the small shape in float32 and bfloat16, since lora_branch.h).
  const double kept = checkpoint_layers ? m.num_hidden_layers * E * dtype_bytes : 0.0;
  const double head = k.head_ce
                          ? tokens * E * 4.0 * 2.0 +
                                std::min(tokens, static_cast<double>(k.head_chunk_rows)) * m.vocab_size * 6.0
                          : tokens * m.vocab_size * 4.0 * 3.0;
  e.activations = tokens * ((layers * saved + backward) * dtype_bytes + kept) + head;
  return e;
}

double machine_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<double>(pages) * static_cast<double>(page) : 0.0;
}

bool pack_weights_for_run(const std::string& choice, double estimate_packed, double budget_bytes,
                          double fraction) {
  if (choice == "always") return true;
  if (choice != "auto") return false;
  return budget_bytes > 0.0 && estimate_packed <= fraction * budget_bytes;
}

}  // namespace mlxft
