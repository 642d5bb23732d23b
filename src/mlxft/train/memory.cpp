#include "mlxft/train/memory.h"

#include <unistd.h>

namespace mlxft {

MemoryEstimate estimate_training_memory(const ModelConfig& m, int dtype_bytes, int64_t trainable_params,
                                        int batch_size, int seq_len, bool checkpoint_layers) {
  MemoryEstimate e;
  e.weights = static_cast<double>(m.parameter_count()) * dtype_bytes;
  e.adapter_state = static_cast<double>(trainable_params) * 4.0 * 5.0;
  const double tokens = static_cast<double>(batch_size) * seq_len;
  const double q = static_cast<double>(m.num_attention_heads) * m.head_dim;
  const double kv = static_cast<double>(m.num_key_value_heads) * m.head_dim;
  const double per_layer_token = 4.0 * m.hidden_size + 2.0 * q + 2.0 * kv + 4.0 * m.intermediate_size +
                                 static_cast<double>(m.num_attention_heads) * seq_len;
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
