// Preset shapes and random weights (see init.h).
#include "mlxft/model/init.h"

#include "mlxft/model/weights.h"
#include "mlxft/util/error.h"

namespace mx = mlx::core;

namespace mlxft {

ModelConfig preset_config(const std::string& preset, int vocab_size) {
  ModelConfig c;  // defaults are Mistral-7B-Instruct-v0.3's
  c.vocab_size = vocab_size;
  if (preset == "tiny") {
    c.hidden_size = 64, c.num_hidden_layers = 2, c.num_attention_heads = 4, c.num_key_value_heads = 2;
    c.intermediate_size = 128;
  } else if (preset == "small") {
    c.hidden_size = 768, c.num_hidden_layers = 12, c.num_attention_heads = 12, c.num_key_value_heads = 4;
    c.intermediate_size = 2048;
  } else if (preset != "mistral-7b-shape") {
    throw Error(ErrorKind::Usage, "--preset", "unknown preset '" + preset + "'",
                "use tiny, small or mistral-7b-shape");
  }
  c.head_dim = c.hidden_size / c.num_attention_heads;
  return c;
}

std::unordered_map<std::string, mx::array> random_weights(const ModelConfig& c, uint64_t seed,
                                                          mx::Dtype dtype) {
  const auto expected = expected_weights(c);
  const mx::array keys = mx::random::split(mx::random::key(seed), static_cast<int>(expected.size()));
  std::unordered_map<std::string, mx::array> w;
  for (size_t i = 0; i < expected.size(); ++i) {
    const auto& [name, shape] = expected[i];
    const bool norm = shape.size() == 1;
    const int k = static_cast<int>(i);
    const mx::array key = mx::reshape(mx::slice(keys, {k, 0}, {k + 1, 2}), {2});
    w.insert_or_assign(name, norm ? mx::ones(shape, dtype)
                                  : mx::random::normal(shape, dtype, 0.0f, c.initializer_range, key));
  }
  return w;
}

}  // namespace mlxft
