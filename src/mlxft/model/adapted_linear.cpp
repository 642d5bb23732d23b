// The adapted projection of each adapter kind (see adapted_linear.h).
#include "mlxft/model/adapted_linear.h"

#include <cmath>
#include <stdexcept>

#include "mlxft/model/lora_branch.h"

namespace mx = mlx::core;

namespace mlxft {
namespace {

// Inverted dropout: keep with probability 1 - p, scale the kept values by 1 / (1 - p).
mx::array dropped_out(const mx::array& x, float p, const mx::array& key) {
  const mx::array keep = mx::random::bernoulli(mx::array(1.0f - p), x.shape(), key);
  return mx::multiply(x, mx::astype(keep, x.dtype())) * mx::array(1.0f / (1.0f - p), x.dtype());
}

// W + scale * B A, float32 [out, in].
mx::array lora_merge(const mx::array& w, const LoraPair& adapter, const LoraConfig& config) {
  return mx::add(w, mx::multiply(mx::array(config.scale()), mx::matmul(adapter.b, adapter.a)));
}

// ||rows|| [out] of a float32 [out, in] matrix.
mx::array row_norms(const mx::array& w) {
  return mx::sqrt(mx::sum(mx::square(w), 1));
}

const LoraPair& with_magnitude(const LoraPair& adapter) {
  if (!adapter.magnitude) throw std::logic_error("a DoRA adapter without its magnitude vector");
  return adapter;
}

}  // namespace

const std::vector<AdapterTensorNames>& adapter_tensors(AdapterKind kind) {
  static const std::vector<AdapterTensorNames> lora = {{"lora_A", "lora_A.weight", "lora_a", "lora_a"},
                                                       {"lora_B", "lora_B.weight", "lora_b", "lora_b"}};
  static const std::vector<AdapterTensorNames> dora = {
      lora[0], lora[1], {"lora_magnitude_vector", "lora_magnitude_vector", "m", ""}};
  switch (kind) {
    case AdapterKind::lora: return lora;
    case AdapterKind::dora: return dora;
  }
  return lora;
}

const std::string& adapter_kind_name(AdapterKind kind) {
  static const std::string lora = "lora", dora = "dora";
  switch (kind) {
    case AdapterKind::lora: return lora;
    case AdapterKind::dora: return dora;
  }
  return lora;
}

const std::vector<AdapterKind>& adapter_kinds() {
  static const std::vector<AdapterKind> kinds = {AdapterKind::lora, AdapterKind::dora};
  return kinds;
}

std::optional<AdapterKind> adapter_kind_named(const std::string& name) {
  for (const AdapterKind kind : adapter_kinds()) {
    if (adapter_kind_name(kind) == name) return kind;
  }
  return std::nullopt;
}

LoraPair initial_adapter(const LoraConfig& config, int in, int out, const mx::array& key,
                         const std::function<mx::array()>& base_weight) {
  const float bound = 1.0f / std::sqrt(static_cast<float>(in));
  auto a = mx::random::uniform(-bound, bound, {config.rank, in}, mx::float32, key);
  auto b = mx::zeros({out, config.rank}, mx::float32);
  LoraPair pair{a, b};
  switch (config.kind) {
    case AdapterKind::lora: break;
    case AdapterKind::dora: {
      const mx::array w = base_weight();
      if (w.ndim() != 2 || w.shape(0) != out || w.shape(1) != in) {
        throw std::logic_error("initial_adapter: the base weight's shape is not [out, in]");
      }
      pair.magnitude = row_norms(mx::astype(w, mx::float32));
      mx::eval(*pair.magnitude);  // the base weight's dequantized copy goes now
      break;
    }
  }
  return pair;
}

mx::array dora_weight_norm(const mx::array& w, const LoraPair& adapter, const LoraConfig& config) {
  return row_norms(lora_merge(w, adapter, config));
}

mx::array adapted_linear(const mx::array& y, const mx::array& x, const FrozenWeight& w, const LoraPair& adapter,
                         const LoraConfig& config, const std::optional<mx::array>& dropout_key) {
  const mx::array xd = dropout_key ? dropped_out(x, config.dropout, *dropout_key) : x;
  switch (config.kind) {
    case AdapterKind::lora: return lora_add(y, xd, adapter.a, adapter.b, config.scale());
    case AdapterKind::dora: {
      const LoraPair& p = with_magnitude(adapter);
      const mx::array norm =
          p.fixed_norm ? *p.fixed_norm : mx::stop_gradient(dora_weight_norm(frozen_float_weight(w), p, config));
      const mx::array rescale = mx::astype(mx::divide(*p.magnitude, norm), y.dtype());
      return mx::multiply(lora_add(y, xd, p.a, p.b, config.scale()), rescale);
    }
  }
  throw std::logic_error("adapted_linear: unknown adapter kind");
}

mx::array merged_weight(const mx::array& w, const LoraPair& adapter, const LoraConfig& config) {
  switch (config.kind) {
    case AdapterKind::lora: return lora_merge(w, adapter, config);
    case AdapterKind::dora: {
      const LoraPair& p = with_magnitude(adapter);
      const mx::array merged = lora_merge(w, p, config);
      return mx::multiply(merged, mx::expand_dims(mx::divide(*p.magnitude, row_norms(merged)), 1));
    }
  }
  throw std::logic_error("merged_weight: unknown adapter kind");
}

}  // namespace mlxft
