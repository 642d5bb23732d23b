// libFuzzer target: any bytes as a model's config.json (both transformers forms, RoPE scaling, the
// mlx-community quantization block). Reading must throw mlxft::Error or return a config within
// check_config_bounds(); never a crash, an nlohmann exception or an allocation sized by the file.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "mlxft/model/config.h"
#include "mlxft/model/quant.h"
#include "mlxft/util/error.h"
#include "mlxft/util/untrusted_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const nlohmann::json j = mlxft::parse_untrusted_json(text, "fuzz/config.json");
    const mlxft::ModelConfig c = mlxft::ModelConfig::from_json(j, "fuzz/config.json");
    mlxft::check_config_bounds(c, "fuzz/config.json");  // must hold for what from_json accepts
    if (c.head_dim % 2 != 0 || c.num_attention_heads % c.num_key_value_heads != 0) std::abort();
    (void)mlxft::mlx_quantization(j, c, [](const std::string&) { return true; }, "fuzz/config.json");
    (void)c.to_json().dump();
  } catch (const mlxft::Error&) {
  }
  return 0;
}
