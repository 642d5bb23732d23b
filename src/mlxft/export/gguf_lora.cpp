// llama.cpp's LoRA adapter GGUF (see gguf_export.h).
#include <fmt/format.h>

#include "mlxft/adapters/adapter_io.h"
#include "mlxft/export/ggml_encode.h"
#include "mlxft/export/gguf_export.h"
#include "mlxft/export/hf_dir.h"
#include "mlxft/export/modelfile.h"
#include "mlxft/formats/gguf_writer.h"
#include "mlxft/model/adapted_linear.h"
#include "mlxft/model/family.h"
#include "mlxft/model/gguf_model.h"
#include "mlxft/model/source.h"
#include "mlxft/util/error.h"

namespace mx = mlx::core;
namespace fs = std::filesystem;

namespace mlxft {
namespace {

// The model's config without reading its weights: config.json, or the GGUF's llama.* metadata.
ModelConfig model_config(const ModelSource& s) {
  if (s.kind == ModelSourceKind::GgufFile) return gguf_model_config(read_gguf(s.path));
  return ModelConfig::from_file(s.config_file);
}

fs::path modelfile_base(const GgufExportOptions& o, const ModelSource& s) {
  if (!o.base_gguf.empty()) return o.base_gguf;
  if (s.kind == ModelSourceKind::GgufFile) return s.path;
  return o.out.parent_path() / "base.gguf";  // what `mlxft export gguf --model M --out base.gguf` writes
}

}  // namespace

GgufExportResult write_gguf_lora(const GgufExportOptions& o) {
  require_new_output(o.out, "--out");
  require_new_output(modelfile_path(o.out), "the Modelfile beside --out");
  return write_gguf_lora(o, load_adapter(o.adapter));
}

GgufExportResult write_gguf_lora(const GgufExportOptions& o, const LoraAdapters& adapters) {
  require_new_output(o.out, "--out");
  require_new_output(modelfile_path(o.out), "the Modelfile beside --out");
  const ModelSource source = resolve_model_source(o.model);
  const ModelConfig config = model_config(source);
  require_gguf_exportable(config, o.model.string());
  check_adapter_fits(adapters, config, o.adapter.empty() ? "the adapter" : o.adapter.string());
  const auto& names = adapter_tensors(adapters.config.kind);
  for (const auto& tensor : names) {
    if (tensor.gguf.empty()) {
      throw Error(ErrorKind::Usage, o.adapter.empty() ? "the adapter" : o.adapter.string(),
                  fmt::format("llama.cpp's adapter GGUF cannot hold a {} adapter (it has no '{}' tensor)",
                              adapter_kind_name(adapters.config.kind), tensor.peft),
                  "export the merged model instead: `mlxft export gguf --adapter ...`, or output.export: [gguf]");
    }
  }
  const int rank = adapters.config.rank;
  const GgufMetadata metadata = {
      {"general.architecture", GgufValue::string(family_of(config.model_type).gguf_architecture)},
      {"general.type", GgufValue::string("adapter")},
      {"general.name", GgufValue::string(o.out.stem().string())},
      {"adapter.type", GgufValue::string(adapter_kind_name(adapters.config.kind))},
      {"adapter.lora.alpha", GgufValue::f32(adapters.config.scale() * static_cast<float>(rank))},
  };
  std::vector<GgufTensorPlan> plans;
  std::vector<mx::array> arrays;
  for (const auto& [module, pair] : adapters.modules) {
    const std::string name = llama_cpp_name(module + ".weight", config);
    const LoraModulePath path = parse_module_path(module);
    const int heads = !gguf_permutes_qk(config) ? 0
                      : path.target == "q_proj" ? config.num_attention_heads
                      : path.target == "k_proj" ? config.num_key_value_heads
                                                : 0;
    plans.push_back({name + "." + names[0].gguf,
                     {pair.a.shape(0), pair.a.shape(1)},
                     static_cast<uint32_t>(GgmlType::F32)});
    arrays.push_back(pair.a);
    plans.push_back({name + "." + names[1].gguf,
                     {pair.b.shape(0), pair.b.shape(1)},
                     static_cast<uint32_t>(GgmlType::F32)});
    arrays.push_back(heads ? permute_qk_rows(pair.b, heads) : pair.b);
  }
  save_gguf_streamed(o.out, metadata, plans,
                     [&](size_t i) { return ggml_encode(arrays[i], GgmlType::F32, plans[i].name); });
  GgufExportResult r{static_cast<int>(plans.size()), fs::file_size(o.out), {}};
  r.modelfile = write_modelfile(o.out, modelfile_base(o, source), o.out, source);
  return r;
}

}  // namespace mlxft
