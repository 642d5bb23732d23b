#include "export/export_test_support.h"

#include <gtest/gtest.h>

#include "mlxft/adapters/adapter_io.h"
#include "mlxft/model/config.h"
#include "support/test_support.h"

namespace mx = mlx::core;

namespace mlxft::test {

void tiny_model_dir(const std::filesystem::path& dir) {
  const CommandResult r = init_tiny_model(dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
}

LoraAdapters tiny_adapters(const std::filesystem::path& model_dir) {
  const ModelConfig c = ModelConfig::from_file(model_dir / "config.json");
  LoraConfig lc;
  lc.rank = 4;
  lc.alpha = 8.0f;
  lc.targets = lora_target_names();
  LoraAdapters a = init_lora(c, lc, 5);
  int i = 0;
  for (auto& [path, pair] : a.modules) {
    pair.b = mx::multiply(mx::array(0.05f),
                          mx::random::normal(pair.b.shape(), mx::float32, mx::random::key(40 + i++)));
  }
  return a;
}

void save_tiny_adapter(const std::filesystem::path& model_dir, const std::filesystem::path& adapter_dir) {
  save_adapter_peft(tiny_adapters(model_dir), adapter_dir, model_dir.string());
}

}  // namespace mlxft::test
