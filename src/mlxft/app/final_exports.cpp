// The end-of-run exports (see final_exports.h).
#include "mlxft/app/final_exports.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "mlxft/adapters/adapter_io.h"
#include "mlxft/data/tool_catalogue.h"
#include "mlxft/export/fuse.h"
#include "mlxft/export/gguf_export.h"
#include "mlxft/export/hf_dir.h"
#include "mlxft/export/modelfile.h"
#include "mlxft/model/config.h"
#include "mlxft/model/source.h"
#include "mlxft/model/weights.h"
#include "mlxft/util/durable_file.h"

namespace fs = std::filesystem;
namespace mx = mlx::core;

namespace mlxft {
namespace {

bool wants(const std::vector<std::string>& formats, const std::string& name) {
  return std::find(formats.begin(), formats.end(), name) != formats.end();
}

void remove_old(const fs::path& path) {
  fs::remove_all(path);
  fs::remove(modelfile_path(path));
}

}  // namespace

std::vector<std::string> write_final_exports(const fs::path& final_dir, const fs::path& model_path,
                                             const LoraAdapters& adapters, int num_layers,
                                             const std::vector<std::string>& formats,
                                             const OrderedJson* catalogue) {
  std::vector<std::string> written;
  fs::create_directories(final_dir);
  const auto add_catalogue = [&](const fs::path& dir) {
    if (catalogue != nullptr) write_file_atomic(dir / kAdapterCatalogueFile, catalogue->dump(2) + "\n");
  };
  if (wants(formats, "peft")) {
    save_adapter_peft(adapters, final_dir / "peft", model_path.string());
    add_catalogue(final_dir / "peft");
    written.push_back("peft/");
  }
  if (wants(formats, "mlx")) {
    save_adapter_mlx(adapters, final_dir / "mlx", num_layers);
    add_catalogue(final_dir / "mlx");
    written.push_back("mlx/");
  }
  if (wants(formats, "fused")) {
    remove_old(final_dir / "fused");
    write_fused_model({model_path, {}, final_dir / "fused", stored_float_dtype(model_path)}, &adapters);
    written.push_back("fused/");
  }
  if (wants(formats, "gguf")) {
    remove_old(final_dir / "model.gguf");
    write_gguf_model({model_path, {}, final_dir / "model.gguf", GgmlType::F16, {}}, &adapters);
    written.push_back("model.gguf");
  }
  if (wants(formats, "gguf-lora")) {
    remove_old(final_dir / "adapter.gguf");
    write_gguf_lora({model_path, {}, final_dir / "adapter.gguf", GgmlType::F32, {}}, adapters);
    written.push_back("adapter.gguf");
  }
  return written;
}

}  // namespace mlxft
