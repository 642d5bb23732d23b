// LoRA adapters on the linear projections of a Llama/Mistral model.
//
// Contract: an adapted projection computes (LoRA; adapted_linear.h has every kind, DoRA too)
//     y = x W^T + scale * (dropout(x) A^T) B^T
// with A [rank, in] and B [out, rank] (PEFT's orientation), scale =
// alpha / rank (alpha / sqrt(rank) with rsLoRA). Adapters are keyed by the
// module path of the projection ("model.layers.3.self_attn.q_proj",
// "model.layers.0.mlp.down_proj"); the map is ordered, so flatten() gives a
// stable parameter order (a, b and DoRA's magnitude per module, modules in key order)
// that the optimizer, checkpoints and gradients all share. Adapter arrays are float32.
#pragma once

#include <mlx/mlx.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mlxft {

struct ModelConfig;

// The projections LoRA can adapt, by short name, and their module sub-path: the one list of them.
// q_proj k_proj v_proj o_proj qkv_proj -> "self_attn.<name>"; gate_proj up_proj down_proj
// gate_up_proj -> "mlp.<name>". qkv_proj (rows q | k | v) and gate_up_proj (rows gate | up) are
// Phi-3's fused projections; a model has either those or the separate ones (family_lora_targets(),
// model/family.h, lists a model's own), and init_lora() refuses a name its family does not have.
const std::vector<std::string>& lora_target_names();

// The same projections as values, in lora_target_names() order: names[int(p)] is p's name.
enum class Projection { Q, K, V, O, Gate, Up, Down, QKV, GateUp };
inline constexpr int kProjectionCount = 9;
// LoRA dropout draws one key per (layer, slot) from 7 slots, as before the fused projections came:
// QKV uses Q's slot and GateUp Gate's (a model never has both), so the other families' masks stay.
inline constexpr int kDropoutSlots = 7;
inline int dropout_slot(Projection p) {
  return p == Projection::QKV ? 0 : p == Projection::GateUp ? 4 : static_cast<int>(p);
}
inline const std::string& projection_name(Projection p) {
  return lora_target_names()[static_cast<size_t>(p)];
}
// The projection of a short name; std::logic_error for a name not in lora_target_names().
Projection projection_of(const std::string& target);

// A module path split into its layer and target ("model.layers.3.mlp.down_proj" -> 3, down_proj).
struct LoraModulePath {
  int layer;
  std::string target;
};
// The inverse of lora_module_path(); std::logic_error for any other string (callers check first).
LoraModulePath parse_module_path(const std::string& path);

// What an adapted projection computes, and so which parameters it has (adapted_linear.h owns each
// kind's forward, initialisation, merge and tensor names).
enum class AdapterKind { lora, dora };

struct LoraConfig {
  AdapterKind kind = AdapterKind::lora;
  int rank = 16;
  float alpha = 32.0f;
  float dropout = 0.0f;
  bool use_rslora = false;
  std::vector<std::string> targets = {"q_proj", "v_proj"};  // short names, see lora_target_names()
  std::vector<int> layers;                                  // empty: every layer
  float scale() const {
    return use_rslora ? alpha / std::sqrt(static_cast<float>(rank)) : alpha / static_cast<float>(rank);
  }
};

// One adapted module's trainable arrays, in PEFT orientation.
struct LoraPair {
  LoraPair(mlx::core::array a_, mlx::core::array b_, std::optional<mlx::core::array> magnitude_ = {})
      : a(std::move(a_)), b(std::move(b_)), magnitude(std::move(magnitude_)) {}

  mlx::core::array a;                          // [rank, in]
  mlx::core::array b;                          // [out, rank]
  std::optional<mlx::core::array> magnitude;  // DoRA only: [out], one magnitude per output row
  // DoRA only, not trained: the row norms ||W + scale B A|| computed once for an adapter that no
  // longer changes (fix_dora_norms(), llama.h), so that decoding does not recompute them per token.
  std::optional<mlx::core::array> fixed_norm;

  // The arrays in flatten() order (adapter_tensors() names them), and the inverse: takes them from
  // flat[i...] (as many as this pair holds) and returns the index after them.
  std::vector<mlx::core::array> arrays() const {
    if (magnitude) return {a, b, *magnitude};
    return {a, b};
  }
  size_t assign(const std::vector<mlx::core::array>& flat, size_t i) {
    a = flat[i++];
    b = flat[i++];
    if (magnitude) magnitude = flat[i++];
    return i;
  }
};

struct LoraAdapters {
  LoraConfig config;
  std::map<std::string, LoraPair> modules;  // module path -> (A, B)

  std::vector<mlx::core::array> flatten() const;           // LoraPair::arrays() per module in key order
  void assign(const std::vector<mlx::core::array>& flat);  // inverse of flatten()
  int64_t parameter_count() const;
  const LoraPair* find(const std::string& module_path) const;  // nullptr if not adapted
};

// (in, out) features of a target projection (a name from lora_target_names()) in a model of this shape.
std::pair<int, int> lora_projection_shape(const ModelConfig& model, const std::string& target);

// "model.layers.{layer}.self_attn.q_proj" etc. Throws Config error for an unknown target.
std::string lora_module_path(int layer, const std::string& target);

// A module's frozen weight as float32 [out, in] (dequantized when quantized), by module path.
using BaseWeightFn = std::function<mlx::core::array(const std::string& module)>;

// New adapters, each module as its kind initialises it (initial_adapter(), adapted_linear.h) from a key
// that depends only on the seed and the module path. Validates targets/layers/rank (Config error).
// `base` gives the frozen weights a kind initialises from (DoRA's magnitude); std::logic_error when
// such a kind has none.
LoraAdapters init_lora(const ModelConfig& model, const LoraConfig& config, uint64_t seed,
                       const BaseWeightFn& base = {});

}  // namespace mlxft
