// Telling the adapter formats apart and loading either (see adapter_io.h).
#include "mlxft/adapters/adapter_io.h"

#include "mlxft/adapters/adapter_checks.h"

namespace fs = std::filesystem;

namespace mlxft {

AdapterFormat detect_adapter_format(const fs::path& dir) {
  if (!fs::is_directory(dir)) {
    adapters::adapter_error(dir, "the adapter directory does not exist",
                            "pass the directory that holds adapter_config.json");
  }
  if (fs::is_regular_file(dir / kPeftWeightsFile)) return AdapterFormat::Peft;
  if (fs::is_regular_file(dir / kMlxWeightsFile)) return AdapterFormat::MlxLm;
  adapters::adapter_error(
      dir, "no adapter weights found",
      "expected adapter_model.safetensors (PEFT) or adapters.safetensors (mlx-lm) in this directory");
}

LoraAdapters load_adapter(const fs::path& dir) {
  return detect_adapter_format(dir) == AdapterFormat::Peft ? load_peft_adapter(dir) : load_mlx_adapter(dir);
}

}  // namespace mlxft
