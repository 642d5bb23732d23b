#include "export/export_test_support.h"

#include <gtest/gtest.h>

#include <optional>

#include "mlxft/adapters/adapter_io.h"
#include "mlxft/export/fuse.h"
#include "mlxft/model/family.h"
#include "mlxft/model/config.h"
#include "mlxft/model/llama.h"
#include "support/test_support.h"

namespace mx = mlx::core;

namespace mlxft::test {

void tiny_model_dir(const std::filesystem::path& dir) {
  const CommandResult r = init_tiny_model(dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
}

LoraAdapters tiny_adapters(const std::filesystem::path& model_dir, AdapterKind kind) {
  const ModelConfig c = ModelConfig::from_file(model_dir / "config.json");
  LoraConfig lc;
  lc.kind = kind;
  lc.rank = 4;
  lc.alpha = 8.0f;
  lc.targets = family_lora_targets(c);
  BaseWeightFn base;
  std::optional<Model> model;
  if (kind == AdapterKind::dora) {
    model = load_model(model_dir, mx::float32);
    base = [&](const std::string& module) { return base_float_weight(*model, module); };
  }
  LoraAdapters a = init_lora(c, lc, 5, base);
  int i = 0;
  for (auto& [path, pair] : a.modules) {
    pair.b = mx::multiply(mx::array(0.05f),
                          mx::random::normal(pair.b.shape(), mx::float32, mx::random::key(40 + i++)));
    if (pair.magnitude) {
      const mx::array noise = mx::random::normal(pair.magnitude->shape(), mx::float32, mx::random::key(90 + i));
      pair.magnitude = mx::multiply(*pair.magnitude, mx::add(mx::array(1.0f), mx::multiply(mx::array(0.1f), noise)));
    }
  }
  return a;
}

void save_tiny_adapter(const std::filesystem::path& model_dir, const std::filesystem::path& adapter_dir) {
  save_adapter_peft(tiny_adapters(model_dir), adapter_dir, model_dir.string());
}

}  // namespace mlxft::test
