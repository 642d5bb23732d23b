// The adapted projection of each adapter kind (see adapted_linear.h).
#include "mlxft/model/adapted_linear.h"

#include <cmath>

#include "mlxft/model/lora_branch.h"

namespace mx = mlx::core;

namespace mlxft {
namespace {

// Inverted dropout: keep with probability 1 - p, scale the kept values by 1 / (1 - p).
mx::array dropped_out(const mx::array& x, float p, const mx::array& key) {
  const mx::array keep = mx::random::bernoulli(mx::array(1.0f - p), x.shape(), key);
  return mx::multiply(x, mx::astype(keep, x.dtype())) * mx::array(1.0f / (1.0f - p), x.dtype());
}

}  // namespace

const std::vector<AdapterTensorNames>& adapter_tensors(AdapterKind kind) {
  static const std::vector<AdapterTensorNames> lora = {{"lora_A", "lora_a", "lora_a"},
                                                       {"lora_B", "lora_b", "lora_b"}};
  switch (kind) {
    case AdapterKind::lora: return lora;
  }
  return lora;
}

const std::string& adapter_kind_name(AdapterKind kind) {
  static const std::string lora = "lora";
  switch (kind) {
    case AdapterKind::lora: return lora;
  }
  return lora;
}

std::optional<AdapterKind> adapter_kind_named(const std::string& name) {
  for (const AdapterKind kind : {AdapterKind::lora}) {
    if (adapter_kind_name(kind) == name) return kind;
  }
  return std::nullopt;
}

LoraPair initial_adapter(const LoraConfig& config, int in, int out, const mx::array& key) {
  const float bound = 1.0f / std::sqrt(static_cast<float>(in));
  auto a = mx::random::uniform(-bound, bound, {config.rank, in}, mx::float32, key);
  auto b = mx::zeros({out, config.rank}, mx::float32);
  return LoraPair{a, b};
}

mx::array adapted_linear(const mx::array& y, const mx::array& x, const LoraPair& adapter,
                         const LoraConfig& config, const std::optional<mx::array>& dropout_key) {
  const mx::array xd = dropout_key ? dropped_out(x, config.dropout, *dropout_key) : x;
  return lora_add(y, xd, adapter.a, adapter.b, config.scale());
}

mx::array merged_weight(const mx::array& w, const LoraPair& adapter, const LoraConfig& config) {
  return mx::add(w, mx::multiply(mx::array(config.scale()), mx::matmul(adapter.b, adapter.a)));
}

}  // namespace mlxft
