// Model families: what a family's decoder block changes in the Llama block, and its config keys.
//
// Contract: a Family is one row of differences from the Llama/Mistral block (llama.cpp runs every
// family, asking the row at each point where they differ). Each family beyond Llama lives in its
// own file (family_qwen2.cpp, family_qwen3.cpp, family_gemma3.cpp, family_phi3.cpp) that fills the
// row and reads and writes the config.json keys only it has. family_of() finds a family by config.json's model_type
// (a Config error naming the key, the file and the supported types otherwise). extra_layer_weights()
// lists the tensors a family's layer has beyond Llama's nine (biases, q/k norms, Gemma's
// feed-forward norms), relative to "model.layers.N.", with their shapes: weights.cpp appends them to
// the expected list, so loading, fuse and the HF export all know them. layer_projections() lists a
// layer's projections ([out, in]): Llama's seven, or Phi-3's four with q/k/v fused in
// self_attn.qkv_proj (rows q | k | v) and gate/up in mlp.gate_up_proj (rows gate | up); the
// forward pass splits the fused outputs and LoRA adapts the fused module, as PEFT does.
// family_lora_targets() is the same list as LoRA target names.
#pragma once

#include <mlx/mlx.h>

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace mlxft {

struct ModelConfig;

enum class MlpActivation { silu, gelu_tanh };  // gate activation of the gated MLP

struct Family {
  std::string model_type;     // config.json "model_type"
  std::string architecture;   // config.json "architectures"[0], e.g. "Qwen2ForCausalLM"
  std::string gguf_architecture;  // llama.cpp's general.architecture
  bool qkv_bias = false;      // q/k/v projections have a bias (Qwen2)
  bool qk_norm = false;       // RMSNorm over head_dim on q and k before RoPE (Qwen3, Gemma 3)
  bool norm_plus_one = false;  // RMSNorm scales by (1 + w), not w (Gemma)
  bool embed_scale = false;    // embeddings times sqrt(hidden_size), in their dtype (Gemma)
  // Gemma's block: h = x + post_attention_norm(attn(input_norm(x)));
  //                out = h + post_feedforward_norm(mlp(pre_feedforward_norm(h))).
  bool sandwich_norms = false;
  MlpActivation activation = MlpActivation::silu;
  // Sliding layers rotate with their own base (rope_local_theta; config_rope.h reads it).
  bool local_rope = false;
  // q/k/v one projection (self_attn.qkv_proj), gate/up one (mlp.gate_up_proj) (Phi-3).
  bool fused_projections = false;
  // The config may rotate only the first partial_rotary_factor of each head and use Phi-3's
  // longrope scaling (config.h RopeScaling); other families refuse both.
  bool partial_longrope = false;
  // Reads the family's own keys from config.json into `c` (the common keys are read already);
  // a key it cannot honour is a Config error naming `source` and the key.
  void (*read)(const nlohmann::json& j, const std::string& source, ModelConfig& c) = nullptr;
  // Writes them into `j` (to_json(): a config.json transformers loads as this family).
  void (*write)(const ModelConfig& c, nlohmann::json& j) = nullptr;
};

// The row of `model_type`; a Config error at "source: model_type" for an unsupported one.
const Family& family_of(const std::string& model_type, const std::string& source = "config.json");
// The supported model_type values, for messages ("llama, mistral, qwen2, ...").
std::string supported_model_types();

// The family files' rows (one function each, defined in their own file).
const Family& qwen2_family();
const Family& qwen3_family();
const Family& gemma3_family();
const Family& phi3_family();

// Tensors of layer N beyond Llama's (names relative to "model.layers.N.").
std::vector<std::pair<std::string, mlx::core::Shape>> extra_layer_weights(const ModelConfig& c);
// A layer's projections, as module paths below "model.layers.N." ("self_attn.q_proj"), with their
// weight shapes [out, in], in lora_target_names() order.
std::vector<std::pair<std::string, mlx::core::Shape>> layer_projections(const ModelConfig& c);
// The short names of layer_projections() ("q_proj", ...): the LoRA targets a model of `c` has.
std::vector<std::string> family_lora_targets(const ModelConfig& c);

}  // namespace mlxft
