// The llama GGUF of a (fused) model (see gguf_export.h).
#include "mlxft/export/gguf_export.h"

#include <map>
#include <optional>
#include <regex>

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

GgufMetadata model_metadata(const ModelConfig& c, const std::string& name, GgmlType type) {
  if (c.rope_scaling.type == "llama3") {
    throw Error(ErrorKind::Model, "rope_scaling",
                "Llama 3's rope scaling is not written to GGUF by mlxft yet",
                "fuse the model (mlxft fuse) and convert it with llama.cpp's convert_hf_to_gguf.py");
  }
  GgufMetadata m = {
      {"general.architecture", GgufValue::string("llama")},
      {"general.type", GgufValue::string("model")},
      {"general.name", GgufValue::string(name)},
      {"general.file_type", GgufValue::u32(file_type(type))},
      {"general.quantization_version", GgufValue::u32(2)},
      {"llama.context_length", GgufValue::u32(static_cast<uint32_t>(c.max_position_embeddings))},
      {"llama.embedding_length", GgufValue::u32(static_cast<uint32_t>(c.hidden_size))},
      {"llama.block_count", GgufValue::u32(static_cast<uint32_t>(c.num_hidden_layers))},
      {"llama.feed_forward_length", GgufValue::u32(static_cast<uint32_t>(c.intermediate_size))},
      {"llama.rope.dimension_count", GgufValue::u32(static_cast<uint32_t>(c.head_dim))},
      {"llama.attention.head_count", GgufValue::u32(static_cast<uint32_t>(c.num_attention_heads))},
      {"llama.attention.head_count_kv", GgufValue::u32(static_cast<uint32_t>(c.num_key_value_heads))},
      {"llama.attention.key_length", GgufValue::u32(static_cast<uint32_t>(c.head_dim))},
      {"llama.attention.value_length", GgufValue::u32(static_cast<uint32_t>(c.head_dim))},
      {"llama.attention.layer_norm_rms_epsilon", GgufValue::f32(c.rms_norm_eps)},
      {"llama.rope.freq_base", GgufValue::f32(c.rope_theta)},
      {"llama.vocab_size", GgufValue::u32(static_cast<uint32_t>(c.vocab_size))},
  };
  if (c.rope_scaling.type == "linear") {
    m.emplace_back("llama.rope.scaling.type", GgufValue::string("linear"));
    m.emplace_back("llama.rope.scaling.factor", GgufValue::f32(static_cast<float>(c.rope_scaling.factor)));
  }
  return m;
}

// Heads of a Q or K projection (their rows are permuted for llama.cpp); 0 for other tensors.
int qk_heads(const std::string& hf, const ModelConfig& c) {
  if (hf.ends_with("self_attn.q_proj.weight")) return c.num_attention_heads;
  if (hf.ends_with("self_attn.k_proj.weight")) return c.num_key_value_heads;
  return 0;
}

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

std::string gguf_tensor_name(const std::string& hf) {
  static const std::map<std::string, std::string> top = {{"model.embed_tokens.weight", "token_embd.weight"},
                                                         {"model.norm.weight", "output_norm.weight"},
                                                         {"lm_head.weight", "output.weight"}};
  static const std::map<std::string, std::string> block = {
      {"input_layernorm", "attn_norm"},    {"self_attn.q_proj", "attn_q"},
      {"self_attn.k_proj", "attn_k"},      {"self_attn.v_proj", "attn_v"},
      {"self_attn.o_proj", "attn_output"}, {"post_attention_layernorm", "ffn_norm"},
      {"mlp.gate_proj", "ffn_gate"},       {"mlp.up_proj", "ffn_up"},
      {"mlp.down_proj", "ffn_down"}};
  if (const auto it = top.find(hf); it != top.end()) return it->second;
  static const std::regex pattern(R"(model\.layers\.(\d+)\.([a-z_.]+)\.weight)");
  std::smatch m;
  if (!std::regex_match(hf, m, pattern) || !block.count(m[2].str())) {
    throw std::logic_error("no GGUF name for tensor " + hf);
  }
  return "blk." + m[1].str() + "." + block.at(m[2].str()) + ".weight";
}

GgufExportResult write_gguf_model(const GgufExportOptions& o) {
  require_new_output(o.out, "--out");
  require_new_output(modelfile_path(o.out), "the Modelfile beside --out");
  std::optional<LoraAdapters> adapters;
  if (!o.adapter.empty()) adapters = load_adapter(o.adapter);
  return write_gguf_model(o, adapters ? &*adapters : nullptr);
}

void require_gguf_exportable(const ModelConfig& c, const std::string& model) {
  if (family_of(c.model_type).gguf_architecture == "llama") return;
  throw Error(ErrorKind::Usage, model,
              "GGUF export writes llama.cpp's llama architecture; a " + c.model_type + " model is not one",
              "export the fused Hugging Face directory (`mlxft fuse`, or output.export: [hf]) and convert "
              "it with llama.cpp's convert_hf_to_gguf.py");
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
    plans.push_back({gguf_tensor_name(name), {shape.begin(), shape.end()}, static_cast<uint32_t>(t)});
    hf_names.push_back(name);
  }
  save_gguf_streamed(o.out, metadata, plans, [&](size_t i) {
    const int heads = qk_heads(hf_names[i], model.config);
    const mx::array& w = weights.at(hf_names[i]);
    return ggml_encode(heads ? permute_qk_rows(w, heads) : w, static_cast<GgmlType>(plans[i].type),
                       plans[i].name);
  });
  GgufExportResult r{static_cast<int>(plans.size()), fs::file_size(o.out), {}};
  r.modelfile = write_modelfile(o.out, o.out, {}, source);
  return r;
}

}  // namespace mlxft
