// The GGUF of a (fused) model in its llama.cpp architecture (see gguf_export.h).
#include "mlxft/export/gguf_export.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>

#include "mlxft/adapters/adapter_io.h"
#include "mlxft/export/fuse.h"
#include "mlxft/export/ggml_encode.h"
#include "mlxft/export/gguf_vocab_out.h"
#include "mlxft/export/hf_dir.h"
#include "mlxft/export/modelfile.h"
#include "mlxft/formats/gguf_writer.h"
#include "mlxft/model/family.h"
#include "mlxft/model/gguf_model.h"
#include "mlxft/model/llama.h"
#include "mlxft/model/source.h"
#include "mlxft/model/weights.h"
#include "mlxft/util/error.h"

namespace mx = mlx::core;
namespace fs = std::filesystem;

namespace mlxft {
namespace {

// general.file_type (llama.cpp's LLAMA_FTYPE) of an export type.
uint32_t file_type(GgmlType t) {
  switch (t) {
    case GgmlType::F32: return 0;
    case GgmlType::F16: return 1;
    case GgmlType::Q4_0: return 2;
    default: return 7;  // Q8_0
  }
}

// Gemma 3's sliding_window_pattern as llama.cpp reads it: the period n when layer i slides exactly
// unless (i + 1) % n == 0, else one bool a layer (as gguf-py writes a list).
GgufValue sliding_pattern(const ModelConfig& c) {
  for (int n = 1; n <= c.num_hidden_layers + 1; ++n) {
    bool periodic = true;
    for (int i = 0; i < c.num_hidden_layers && periodic; ++i)
      periodic = c.is_sliding(i) == ((i + 1) % n != 0);
    if (periodic) return GgufValue::u32(static_cast<uint32_t>(n));
  }
  std::vector<GgufScalar> layers;
  for (int i = 0; i < c.num_hidden_layers; ++i) layers.emplace_back(c.is_sliding(i));
  return GgufValue::array_of(GgufValueType::Bool, layers);
}

// general.* and the <arch>.* hyperparameters llama.cpp reads for the model's architecture: the keys
// convert_hf_to_gguf.py writes for it (gguf-py constants.py), plus rope.dimension_count and
// vocab_size, which llama.cpp reads from every architecture.
GgufMetadata model_metadata(const ModelConfig& c, const std::string& name, GgmlType type) {
  if (c.rope_scaling.type == "llama3") {
    throw Error(ErrorKind::Model, "rope_scaling",
                "Llama 3's rope scaling is not written to GGUF by mlxft yet",
                "fuse the model (mlxft fuse) and convert it with llama.cpp's convert_hf_to_gguf.py");
  }
  const Family& family = family_of(c.model_type);
  const std::string arch = family.gguf_architecture, a = arch + ".";
  const auto u32 = [](int v) { return GgufValue::u32(static_cast<uint32_t>(v)); };
  GgufMetadata m = {
      {"general.architecture", GgufValue::string(arch)},
      {"general.type", GgufValue::string("model")},
      {"general.name", GgufValue::string(name)},
      {"general.file_type", GgufValue::u32(file_type(type))},
      {"general.quantization_version", GgufValue::u32(2)},
      {a + "context_length", u32(c.max_position_embeddings)},
      {a + "embedding_length", u32(c.hidden_size)},
      {a + "block_count", u32(c.num_hidden_layers)},
      {a + "feed_forward_length", u32(c.intermediate_size)},
      {a + "rope.dimension_count", u32(c.head_dim)},
      {a + "attention.head_count", u32(c.num_attention_heads)},
      {a + "attention.head_count_kv", u32(c.num_key_value_heads)},
      {a + "attention.key_length", u32(c.head_dim)},
      {a + "attention.value_length", u32(c.head_dim)},
      {a + "attention.layer_norm_rms_epsilon", GgufValue::f32(c.rms_norm_eps)},
      {a + "rope.freq_base", GgufValue::f32(c.rope_theta)},
      {a + "vocab_size", u32(c.vocab_size)},
  };
  if (c.rope_scaling.type == "linear") {
    m.emplace_back(a + "rope.scaling.type", GgufValue::string("linear"));
    m.emplace_back(a + "rope.scaling.factor", GgufValue::f32(static_cast<float>(c.rope_scaling.factor)));
  }
  if (family.local_rope && c.sliding_window > 0 && !c.sliding_layers.empty()) {  // Gemma 3
    m.emplace_back(a + "attention.sliding_window", u32(c.sliding_window));
    m.emplace_back(a + "attention.sliding_window_pattern", sliding_pattern(c));
    m.emplace_back(a + "rope.freq_base_swa", GgufValue::f32(c.rope_local_theta));
  }
  return m;
}

// Heads of a Q or K projection (their rows are permuted for llama.cpp); 0 for other tensors.
int qk_heads(const std::string& hf, const ModelConfig& c) {
  if (hf.ends_with("self_attn.q_proj.weight")) return c.num_attention_heads;
  if (hf.ends_with("self_attn.k_proj.weight")) return c.num_key_value_heads;
  return 0;
}

}  // namespace

std::string llama_cpp_name(const std::string& hf, const ModelConfig& c) {
  const std::string name = gguf_tensor_name(hf, c);
  if (name.empty()) throw std::logic_error("no GGUF name for tensor " + hf);
  return name;
}

namespace {

std::string model_name(const fs::path& model) {
  const fs::path p = model.filename().empty() ? model.parent_path() : model;
  return p.stem().string();
}

}  // namespace

GgmlType parse_gguf_export_type(const std::string& name, const std::string& where) {
  static const std::map<std::string, GgmlType> types = {
      {"f32", GgmlType::F32}, {"f16", GgmlType::F16}, {"q8_0", GgmlType::Q8_0}, {"q4_0", GgmlType::Q4_0}};
  const auto it = types.find(name);
  if (it == types.end()) {
    throw Error(ErrorKind::Usage, where, "unknown GGUF type '" + name + "'", "use f32, f16, q8_0 or q4_0");
  }
  return it->second;
}

GgufExportResult write_gguf_model(const GgufExportOptions& o) {
  require_new_output(o.out, "--out");
  require_new_output(modelfile_path(o.out), "the Modelfile beside --out");
  std::optional<LoraAdapters> adapters;
  if (!o.adapter.empty()) adapters = load_adapter(o.adapter);
  return write_gguf_model(o, adapters ? &*adapters : nullptr);
}

void require_gguf_exportable(const ModelConfig& c, const std::string& model) {
  const Family& family = family_of(c.model_type);
  static const std::vector<std::string> written = {"llama", "qwen2", "qwen3", "gemma3"};
  if (std::find(written.begin(), written.end(), family.gguf_architecture) == written.end()) {
    throw Error(ErrorKind::Usage, model,
                "GGUF export writes llama.cpp's llama, qwen2, qwen3 and gemma3 architectures; a " +
                    c.model_type + " model is none of them",
                "export the fused Hugging Face directory (`mlxft fuse`, or output.export: [hf]) and convert "
                "it with llama.cpp's convert_hf_to_gguf.py");
  }
  if (family.local_rope) {  // Gemma 3: llama.cpp scales attention by 1/sqrt(head_dim) (27B: hidden / heads)
    const float llama_cpp_scalar = c.num_hidden_layers == 62
                                       ? static_cast<float>(c.hidden_size / c.num_attention_heads)
                                       : static_cast<float>(c.head_dim);
    if (c.query_pre_attn_scalar != llama_cpp_scalar) {
      throw Error(
          ErrorKind::Usage, model + ": query_pre_attn_scalar",
          fmt::format("is {}, but llama.cpp scales this Gemma 3 model's attention by 1/sqrt({}) and has "
                      "no key for another value",
                      c.query_pre_attn_scalar, llama_cpp_scalar),
          "released Gemma 3 models use head_dim (27B: hidden_size / heads); export the fused Hugging "
          "Face directory for this one");
    }
  }
}

GgufExportResult write_gguf_model(const GgufExportOptions& o, const LoraAdapters* adapters) {
  require_new_output(o.out, "--out");
  require_new_output(modelfile_path(o.out), "the Modelfile beside --out");
  const ModelSource source = resolve_model_source(o.model);
  const Model model = load_model(o.model, stored_float_dtype(o.model));
  require_gguf_exportable(model.config, o.model.string());
  if (adapters)
    check_adapter_fits(*adapters, model.config, o.adapter.empty() ? "the adapter" : o.adapter.string());
  GgufMetadata metadata = model_metadata(model.config, model_name(source.path), o.type);
  for (auto& kv : gguf_tokenizer_metadata(source, model.config.vocab_size)) metadata.push_back(std::move(kv));
  const auto weights = fused_weights(model, adapters, mx::float32);
  std::vector<GgufTensorPlan> plans;
  std::vector<std::string> hf_names;
  for (const auto& [name, shape] : expected_weights(model.config)) {
    GgmlType t = shape.size() == 1 ? GgmlType::F32 : o.type;
    if ((t == GgmlType::Q8_0 || t == GgmlType::Q4_0) && shape.back() % 32 != 0) t = GgmlType::F16;
    plans.push_back(
        {llama_cpp_name(name, model.config), {shape.begin(), shape.end()}, static_cast<uint32_t>(t)});
    hf_names.push_back(name);
  }
  const bool permute = gguf_permutes_qk(model.config);
  const float norm_shift = gguf_norm_shift(model.config);
  save_gguf_streamed(o.out, metadata, plans, [&](size_t i) {
    const int heads = permute ? qk_heads(hf_names[i], model.config) : 0;
    mx::array w = weights.at(hf_names[i]);
    if (heads) w = permute_qk_rows(w, heads);
    // Gemma's RMSNorm scales by (1 + w): llama.cpp's converter stores 1 + w, in float32 here.
    if (norm_shift != 0.0f && hf_names[i].ends_with("norm.weight")) w = mx::add(w, mx::array(norm_shift));
    return ggml_encode(w, static_cast<GgmlType>(plans[i].type), plans[i].name);
  });
  GgufExportResult r{static_cast<int>(plans.size()), fs::file_size(o.out), {}};
  r.modelfile = write_modelfile(o.out, o.out, {}, source);
  return r;
}

}  // namespace mlxft
