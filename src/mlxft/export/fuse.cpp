// Fused (merged) weights (see fuse.h).
#include "mlxft/export/fuse.h"

#include "mlxft/model/adapted_linear.h"
#include "mlxft/model/quant.h"
#include "mlxft/model/source.h"
#include "mlxft/model/weights.h"

namespace mx = mlx::core;

namespace mlxft {

mx::Dtype stored_float_dtype(const std::filesystem::path& model) {
  const ModelSource s = resolve_model_source(model);
  if (s.kind == ModelSourceKind::GgufFile) return mx::float32;
  try {
    return parse_dtype(ModelConfig::from_file(s.config_file).torch_dtype, "torch_dtype");
  } catch (const std::exception&) {
    return mx::float32;
  }
}

mx::array base_float_weight(const Model& model, const std::string& module) {
  const auto q = model.quantization.find(module);
  if (q != model.quantization.end()) return dequantize_module(model.weights, module, q->second, mx::float32);
  const mx::array& w = model.weight(module + ".weight");
  return w.dtype() == mx::float32 ? w : mx::astype(w, mx::float32);
}

std::unordered_map<std::string, mx::array> fused_weights(const Model& model, const LoraAdapters* adapters,
                                                         mx::Dtype dtype) {
  std::unordered_map<std::string, mx::array> out;
  for (const auto& [name, shape] : expected_weights(model.config)) {
    if (!name.ends_with(".weight")) {  // a family's bias (family.h): never quantized or adapted
      const mx::array& b = model.weight(name);
      out.insert_or_assign(name, b.dtype() == dtype ? b : mx::astype(b, dtype));
      continue;
    }
    const std::string module = name.substr(0, name.size() - 7);  // minus ".weight"
    mx::array w = base_float_weight(model, module);
    if (const LoraPair* pair = adapters ? adapters->find(module) : nullptr) {
      w = merged_weight(w, *pair, adapters->config);
    }
    out.insert_or_assign(name, w.dtype() == dtype ? w : mx::astype(w, dtype));
  }
  return out;
}

}  // namespace mlxft
