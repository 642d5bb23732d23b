#include "mlxft/train/memory.h"

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
  std::map<int, double> per_layer;  // layer -> float bytes of its quantized projections
  const double float_bytes = static_cast<double>(mx::size_of(model.dtype));
  for (const auto& [module, spec] : model.quantization) {
    const mx::array& s = model.weight(module + ".scales");
    const double bytes = static_cast<double>(s.shape(0)) * s.shape(1) * spec.group_size * float_bytes;
    if (module.starts_with("model.layers.")) {
      per_layer[std::stoi(module.substr(13))] += bytes;
      q.all_layers_float += bytes;
    } else if (module == "lm_head" || model.config.tie_word_embeddings) {
      q.head_float = bytes;  // a quantized embedding alone is only gathered row by row
    }
  }
  for (const auto& [layer, bytes] : per_layer) q.largest_layer_float = std::max(q.largest_layer_float, bytes);
  q.dequantizes_on_use = mx::default_device() == mx::Device::cpu;
  return q;
}

MemoryEstimate estimate_training_memory(const ModelConfig& m, int dtype_bytes, int64_t trainable_params,
                                        int batch_size, int seq_len, bool checkpoint_layers,
                                        const std::optional<QuantizedBase>& quantized, bool fused_attention) {
  MemoryEstimate e;
  e.weights = static_cast<double>(m.parameter_count()) * dtype_bytes;
  if (quantized) {
    e.weights = quantized->stored;
    if (quantized->dequantizes_on_use)
      e.weights += quantized->head_float +
                   (checkpoint_layers ? quantized->largest_layer_float : quantized->all_layers_float);
  }
  e.adapter_state = static_cast<double>(trainable_params) * 4.0 * 5.0;
  const double tokens = static_cast<double>(batch_size) * seq_len;
  const double q = static_cast<double>(m.num_attention_heads) * m.head_dim;
  const double kv = static_cast<double>(m.num_key_value_heads) * m.head_dim;
  const double per_layer_token = 4.0 * m.hidden_size + 2.0 * q + 2.0 * kv + 4.0 * m.intermediate_size +
                                 (fused_attention ? 0.0 : static_cast<double>(m.num_attention_heads) * seq_len);
  const double layers = checkpoint_layers ? 1.0 : static_cast<double>(m.num_hidden_layers);
  const double kept = checkpoint_layers ? static_cast<double>(m.num_hidden_layers) * m.hidden_size : 0.0;
  e.activations =
      tokens * (layers * per_layer_token + kept) * dtype_bytes + tokens * m.vocab_size * 4.0 * 3.0;
  return e;
}

double machine_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<double>(pages) * static_cast<double>(page) : 0.0;
}

}  // namespace mlxft
