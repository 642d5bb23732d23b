// The decoder's forward pass as plain functions over arrays (see llama.h): the Llama block, with
// each family's differences (family.h) asked for where they apply.
//
// Shapes: B batch, T new tokens, S = offset + T cached positions, E hidden
// size, H query heads, K key/value heads (H % K == 0), D head_dim, F MLP
// width, V vocab. Weights are stored as HF does, W [out, in], so a
// projection is y = x W^T.
#include "mlxft/model/llama.h"

#include <array>
#include <cmath>
#include <tuple>
#include <utility>

#include "mlxft/kernels/rms_norm.h"
#include "mlxft/kernels/self_attention.h"
#include "mlxft/kernels/swiglu.h"
#include "mlxft/kernels/switches.h"
#include "mlxft/model/adapted_linear.h"
#include "mlxft/model/family.h"
#include "mlxft/model/linear.h"
#include "mlxft/model/rope.h"
#include "mlxft/model/weights.h"
#include "mlxft/util/error.h"

namespace mx = mlx::core;

namespace mlxft {
namespace {

// The adapters and dropout masks' keys of one block's projections.
struct BlockLora {
  std::array<std::optional<LoraPair>, kProjectionCount> pairs;          // by Projection
  std::array<std::optional<mx::array>, kProjectionCount> dropout_keys;  // set only when dropout applies
  // The adapters' kind, scale and dropout (a copy: the checkpoint's backward outlives forward).
  LoraConfig config;
};

// The frozen weight of a module ("model.layers.3.self_attn.q_proj"), quantized when it is.
FrozenWeight frozen_module(const Model& m, const std::string& module, bool prepare = true) {
  FrozenWeight w{m.weight(module + ".weight")};
  const auto q = m.quantization.find(module);
  if (q != m.quantization.end()) {
    w.scales = m.weight(module + ".scales");
    w.biases = m.weight(module + ".biases");
    w.bits = q->second.bits;
    w.group_size = q->second.group_size;
  }
  if (prepare) w.prepared = kernel_weight(m, module + ".weight");  // the CPU kernel when it applies
  return w;
}

// The frozen weight of one projection of a layer ("model.layers.3.self_attn." + "q_proj").
FrozenWeight frozen(const Model& m, const std::string& prefix, Projection p) {
  return frozen_module(m, prefix + projection_name(p));
}

// The rows of the embedding table [B, T] -> [B, T, E]; a quantized table gathers packed rows, then
// dequantizes them.
mx::array embedding_rows(const Model& m, const mx::array& tokens) {
  if (!m.quantization.count("model.embed_tokens")) return mx::take(m.weight("model.embed_tokens.weight"), tokens, 0);
  const FrozenWeight e = frozen_module(m, "model.embed_tokens");
  auto f32 = [&](const mx::array& a) { return mx::astype(mx::take(a, tokens, 0), mx::float32); };
  const mx::array rows =
      mx::dequantize(mx::take(e.weight, tokens, 0), f32(*e.scales), f32(*e.biases), e.group_size, e.bits);
  return mx::astype(rows, m.dtype);
}

// Embedding lookup; Gemma scales it by sqrt(E), the factor rounded to the rows' dtype first.
mx::array embed(const Model& m, const Family& f, const mx::array& tokens) {
  const mx::array rows = embedding_rows(m, tokens);
  if (!f.embed_scale) return rows;
  const float factor = std::sqrt(static_cast<float>(m.config.hidden_size));
  return mx::multiply(rows, mx::astype(mx::array(factor), rows.dtype()));
}

// y = x W^T, adapted as the adapters' kind says (LoRA: + scale * (dropout(x) A^T) B^T)    x [..., in], W [out, in], A [r, in], B [out,
// r]
mx::array linear(const mx::array& x, const FrozenWeight& w, const BlockLora& lora, Projection projection) {
  mx::array y = frozen_linear(x, w);
  const auto& pair = lora.pairs[static_cast<size_t>(projection)];
  if (!pair) return y;
  return adapted_linear(y, x, w, *pair, lora.config, lora.dropout_keys[static_cast<size_t>(projection)]);
}

// linear() plus the module's bias (Qwen2's q/k/v), added after the adapter as PEFT's base layer does
// (so DoRA's row scaling never scales it).
mx::array biased_linear(const Model& m, const Family& f, const mx::array& x, const std::string& prefix,
                        const BlockLora& lora, Projection p) {
  const mx::array y = linear(x, frozen(m, prefix, p), lora, p);
  if (!f.qkv_bias) return y;
  return mx::add(y, m.weight(prefix + projection_name(p) + ".bias"));
}

// Writes the T new positions of k and v [B, K, T, D] at the cache's offset and returns the cached
// positions 0 .. offset + T as views. The layer's buffers hold whole steps of kKvStep positions and
// grow (one copy) only when full, so a decoding step writes its one position in place (MLX donates
// the buffer to slice_update) instead of copying the whole cache as a concatenation would.
constexpr int kKvStep = 256;
std::pair<mx::array, mx::array> append_kv(KVCache& cache, size_t layer, const mx::array& k, const mx::array& v) {
  mx::array& ck = cache.keys[layer];
  mx::array& cv = cache.values[layer];
  const int B = k.shape(0), K = k.shape(1), D = k.shape(3);
  const int offset = cache.offset, end = offset + k.shape(2);
  if (offset == 0 || ck.ndim() != 4 || ck.shape(2) < end || ck.dtype() != k.dtype()) {
    const int capacity = (end + kKvStep - 1) / kKvStep * kKvStep;
    mx::array grown_k = mx::zeros({B, K, capacity, D}, k.dtype());
    mx::array grown_v = mx::zeros({B, K, capacity, D}, v.dtype());
    if (offset > 0) {
      const mx::Shape kept = {B, K, offset, D};
      grown_k = mx::slice_update(grown_k, mx::astype(mx::slice(ck, {0, 0, 0, 0}, kept), k.dtype()), {0, 0, 0, 0}, kept);
      grown_v = mx::slice_update(grown_v, mx::astype(mx::slice(cv, {0, 0, 0, 0}, kept), v.dtype()), {0, 0, 0, 0}, kept);
    }
    ck = std::move(grown_k);
    cv = std::move(grown_v);
  }
  const mx::Shape stop = {B, K, end, D};
  ck = mx::slice_update(ck, k, {0, 0, offset, 0}, stop);
  cv = mx::slice_update(cv, v, {0, 0, offset, 0}, stop);
  return {mx::slice(ck, {0, 0, 0, 0}, stop), mx::slice(cv, {0, 0, 0, 0}, stop)};
}

// RMSNorm with the weight `name` (kernels::rms_norm: the CPU kernel or MLX's fast::rms_norm); Gemma's
// scales by (1 + w), formed in float32 as transformers does.
mx::array norm(const Model& m, const Family& f, const mx::array& x, const std::string& name) {
  const mx::array& w = m.weight(name);
  if (!f.norm_plus_one) return kernels::rms_norm(x, w, m.config.rms_norm_eps);
  return kernels::rms_norm(x, mx::add(mx::astype(w, mx::float32), mx::array(1.0f)), m.config.rms_norm_eps);
}

// A projection's output [B, T, n * D] with each head RMS-normalised over D by `name` (Qwen3, Gemma 3).
mx::array head_norm(const Model& m, const Family& f, const mx::array& y, int n, const std::string& name) {
  const int B = y.shape(0), T = y.shape(1), D = m.config.head_dim;
  return mx::reshape(norm(m, f, mx::reshape(y, {B, T, n, D}), name), {B, T, n * D});
}

// The config a layer rotates with: Gemma's sliding layers have their own base and no scaling.
ModelConfig rope_config(const ModelConfig& c, const Family& f, int layer) {
  if (!f.local_rope || !c.is_sliding(layer)) return c;
  ModelConfig local = c;
  local.rope_theta = c.rope_local_theta;
  local.rope_scaling = {};
  return local;
}

// Causal self-attention with grouped KV heads and RoPE.   x [B, T, E] -> [B, T, E]
mx::array attention(const Model& m, const Family& f, int layer, const mx::array& x, const BlockLora& lora,
                    KVCache* cache) {
  const ModelConfig& c = m.config;
  const std::string p = "model.layers." + std::to_string(layer) + ".self_attn.";
  const int B = x.shape(0), T = x.shape(1), D = c.head_dim;
  const int offset = cache ? cache->offset : 0;

  // [B, T, heads * D] -> [B, heads, T, D]
  auto heads = [&](const mx::array& y, int n) {
    return mx::transpose(mx::reshape(y, {B, T, n, D}), {0, 2, 1, 3});
  };
  // Phi-3's fused projection: one product, its rows q | k | v split from the output.
  std::optional<mx::array> qkv;
  const int q_width = c.num_attention_heads * D, kv_width = c.num_key_value_heads * D;
  if (f.fused_projections) qkv = linear(x, frozen(m, p, Projection::QKV), lora, Projection::QKV);
  auto columns = [&](int from, int width) { return mx::slice(*qkv, {0, 0, from}, {B, T, from + width}); };
  mx::array qy = qkv ? columns(0, q_width) : biased_linear(m, f, x, p, lora, Projection::Q);
  mx::array ky = qkv ? columns(q_width, kv_width) : biased_linear(m, f, x, p, lora, Projection::K);
  if (f.qk_norm) {
    qy = head_norm(m, f, qy, c.num_attention_heads, p + "q_norm.weight");
    ky = head_norm(m, f, ky, c.num_key_value_heads, p + "k_norm.weight");
  }
  // RoPE on q and k, rotate-half (HF) convention: position t rotates the pair (i, i + D/2) by
  // t * theta^(-2i/D) (frequencies scaled as the config's rope_scaling says).
  const ModelConfig rc = rope_config(c, f, layer);
  mx::array q = split_heads_with_rope(qy, c.num_attention_heads, rc, offset);
  mx::array k = split_heads_with_rope(ky, c.num_key_value_heads, rc, offset);
  mx::array v = heads(qkv ? columns(q_width + kv_width, kv_width) : biased_linear(m, f, x, p, lora, Projection::V),
                      c.num_key_value_heads);

  if (cache) std::tie(k, v) = append_kv(*cache, static_cast<size_t>(layer), k, v);

  // softmax(q k^T scale + causal mask) v, each group of H/K query heads sharing one KV head, the T
  // new tokens after `offset` cached ones; left-padded cache rows mask their padding keys; a sliding
  // layer sees only its window. scale is 1/sqrt(D), or Gemma's query_pre_attn_scalar^-0.5. The fused
  // kernel's block products are bfloat16 where the model computes in bfloat16 (kernel_dtype()).
  const float scale = 1.0f / std::sqrt(c.query_pre_attn_scalar > 0 ? c.query_pre_attn_scalar : static_cast<float>(D));
  const std::vector<int> no_pad;
  const bool bf16_products = m.kernel_cache && m.kernel_dtype() == mx::bfloat16;
  const int window = c.is_sliding(layer) ? c.sliding_window : 0;
  mx::array o = kernels::self_attention(q, k, v, scale, cache ? cache->left_pad : no_pad, bf16_products, window);
  o = mx::reshape(mx::transpose(o, {0, 2, 1, 3}), {B, T, c.num_attention_heads * D});
  return linear(o, frozen(m, p, Projection::O), lora, Projection::O);
}

// gelu_pytorch_tanh(g) * u: 0.5 g (1 + tanh(sqrt(2/pi) (g + 0.044715 g^3))) u.
mx::array gelu_tanh_gated(const mx::array& g, const mx::array& u) {
  const mx::array inner = mx::multiply(
      mx::array(0.7978845608028654f, g.dtype()),
      mx::add(g, mx::multiply(mx::array(0.044715f, g.dtype()), mx::multiply(g, mx::multiply(g, g)))));
  const mx::array gelu = mx::multiply(mx::multiply(mx::array(0.5f, g.dtype()), g),
                                      mx::add(mx::array(1.0f, g.dtype()), mx::tanh(inner)));
  return mx::multiply(gelu, u);
}

// Gated MLP: down( act(gate(x)) * up(x) ), SwiGLU (silu) or Gemma's GELU-tanh; Phi-3's gate and up
// are the two halves of one gate_up_proj output.
// x [B, T, E] -> [B, T, E] through [B, T, F]
mx::array mlp(const Model& m, const Family& f, int layer, const mx::array& x, const BlockLora& lora) {
  const std::string p = "model.layers." + std::to_string(layer) + ".mlp.";
  std::optional<mx::array> gu;
  if (f.fused_projections) gu = linear(x, frozen(m, p, Projection::GateUp), lora, Projection::GateUp);
  const int B = x.shape(0), T = x.shape(1), F = m.config.intermediate_size;
  const mx::array gate =
      gu ? mx::slice(*gu, {0, 0, 0}, {B, T, F}) : linear(x, frozen(m, p, Projection::Gate), lora, Projection::Gate);
  const mx::array up =
      gu ? mx::slice(*gu, {0, 0, F}, {B, T, 2 * F}) : linear(x, frozen(m, p, Projection::Up), lora, Projection::Up);
  const mx::array h =
      f.activation == MlpActivation::silu ? kernels::swiglu(gate, up) : gelu_tanh_gated(gate, up);
  return linear(h, frozen(m, p, Projection::Down), lora, Projection::Down);
}

// One pre-norm block: h = x + attn(norm(x)); out = h + mlp(norm(h)). Gemma's sandwich block also
// normalises each sub-layer's output (post_attention_layernorm, post_feedforward_layernorm) and
// calls the MLP's input norm pre_feedforward_layernorm.
mx::array block(const Model& m, int layer, const mx::array& x, const BlockLora& lora, KVCache* cache) {
  const Family& f = family_of(m.config.model_type);
  const std::string p = "model.layers." + std::to_string(layer) + ".";
  mx::array a = attention(m, f, layer, norm(m, f, x, p + "input_layernorm.weight"), lora, cache);
  if (!f.sandwich_norms) {
    const mx::array h = mx::add(x, a);
    return mx::add(h, mlp(m, f, layer, norm(m, f, h, p + "post_attention_layernorm.weight"), lora));
  }
  const mx::array h = mx::add(x, norm(m, f, a, p + "post_attention_layernorm.weight"));
  const mx::array y = mlp(m, f, layer, norm(m, f, h, p + "pre_feedforward_layernorm.weight"), lora);
  return mx::add(h, norm(m, f, y, p + "post_feedforward_layernorm.weight"));
}

BlockLora block_lora(const ForwardOptions& o, int layer, const std::optional<mx::array>& layer_keys) {
  BlockLora b;
  if (!o.lora) return b;
  b.config = o.lora->config;
  for (int j = 0; j < kProjectionCount; ++j) {
    if (const LoraPair* pair =
            o.lora->find(lora_module_path(layer, projection_name(static_cast<Projection>(j))))) {
      b.pairs[static_cast<size_t>(j)] = *pair;
      const int slot = dropout_slot(static_cast<Projection>(j));
      if (layer_keys)
        b.dropout_keys[static_cast<size_t>(j)] = mx::reshape(mx::slice(*layer_keys, {slot, 0}, {slot + 1, 2}), {2});
    }
  }
  return b;
}

// Runs a block under a checkpoint: its activations are recomputed in the backward pass. The
// adapters go in as explicit inputs so gradients reach them.
mx::array checkpointed_block(const Model& m, int layer, const mx::array& x, const BlockLora& lora) {
  std::vector<mx::array> inputs = {x};
  for (const auto& pair : lora.pairs) {
    if (pair) {
      for (const auto& a : pair->arrays()) inputs.push_back(a);
    }
  }
  const Model* model = &m;
  auto fn = [model, layer, lora](const std::vector<mx::array>& in) {
    BlockLora local = lora;
    size_t i = 1;
    for (auto& pair : local.pairs) {
      if (pair) i = pair->assign(in, i);
    }
    return std::vector<mx::array>{block(*model, layer, in[0], local, nullptr)};
  };
  // MLX's checkpoint orders the recomputation after the forward's output only, so its scheduler may
  // run it long before the backward reaches this layer; after the cotangent, it runs just in time.
  auto vjp_fn = [fn](const std::vector<mx::array>& primals, const std::vector<mx::array>& cotangents,
                     const std::vector<mx::array>&) {
    return mx::vjp(fn, mx::depends(primals, cotangents), cotangents).second;
  };
  return mx::custom_vjp(fn, vjp_fn)(inputs)[0];
}

}  // namespace

void fix_dora_norms(LoraAdapters& adapters, const Model& model) {
  if (adapters.config.kind != AdapterKind::dora) return;
  std::vector<mx::array> norms;
  for (auto& [module, pair] : adapters.modules) {
    const FrozenWeight w = frozen_module(model, module, false);
    pair.fixed_norm = dora_weight_norm(frozen_float_weight(w), pair, adapters.config);
    norms.push_back(*pair.fixed_norm);
    mx::eval(norms.back());  // one module's float weight at a time
  }
}

bool fused_attention_active() {
  return kernels::fused_attention_runs_on(kernels::default_stream());
}

const mx::array& Model::weight(const std::string& name) const {
  return weights.at(name);
}

bool cpu_kernels_apply(const Model& m) {
  const mx::Dtype compute = m.kernel_dtype();
  return m.kernel_cache && kernels::cpu_kernels_run_on(kernels::default_stream()) &&
         (compute == mx::float32 || compute == mx::bfloat16);  // float16: MLX ops
}

kernels::FrozenLinearWeightPtr kernel_weight(const Model& m, const std::string& name) {
  if (!cpu_kernels_apply(m)) return nullptr;
  const mx::array& w = m.weight(name);
  const mx::Dtype compute = m.kernel_dtype();
  const std::string module = name.substr(0, name.rfind('.'));
  const bool pack = name == lm_head_name(m) ? head_is_packed(m) : projections_are_packed(m);
  if (const auto q = m.quantization.find(module); q != m.quantization.end()) {
    FrozenWeight fw{w};
    fw.scales = m.weight(module + ".scales");
    fw.biases = m.weight(module + ".biases");
    fw.bits = q->second.bits;
    fw.group_size = q->second.group_size;
    return m.kernel_cache->get_quantized(name, fw, compute, pack);
  }
  if (!mx::issubdtype(w.dtype(), mx::floating) || w.ndim() != 2) return nullptr;
  return m.kernel_cache->get(name, w, compute, pack);
}

std::string lm_head_name(const Model& m) {
  return m.config.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight";
}

bool head_is_packed(const Model& m) {
  const std::string head = lm_head_name(m);
  const bool quantized = m.quantization.contains(head.substr(0, head.rfind('.')));
  return cpu_kernels_apply(m) && m.kernel_dtype() == mx::bfloat16 && (!quantized || m.pack_weights);
}

bool projections_can_be_packed(const Model& m) {
  return cpu_kernels_apply(m) && m.kernel_dtype() == mx::bfloat16;
}

bool projections_are_packed(const Model& m) {
  return m.pack_weights && projections_can_be_packed(m);
}

mx::array forward_hidden(const Model& m, const mx::array& tokens, const ForwardOptions& options,
                         KVCache* cache) {
  const ModelConfig& c = m.config;
  if (tokens.ndim() != 2 || tokens.dtype() != mx::int32) {
    throw std::invalid_argument("forward: tokens must be int32 [B, T]");
  }
  if (cache && cache->keys.empty()) {
    cache->keys.assign(static_cast<size_t>(c.num_hidden_layers), mx::array(0.0f));
    cache->values.assign(static_cast<size_t>(c.num_hidden_layers), mx::array(0.0f));
  }
  const bool dropout =
      options.train && options.lora && options.lora->config.dropout > 0.0f && options.dropout_key;
  // One key per (layer, dropout slot): [L, 7, 2] (lora.h dropout_slot()).
  std::optional<mx::array> keys;
  if (dropout) {
    keys = mx::reshape(mx::random::split(*options.dropout_key, c.num_hidden_layers * kDropoutSlots),
                       {c.num_hidden_layers, kDropoutSlots, 2});
  }

  // Embedding lookup: [B, T] -> [B, T, E].
  const Family& family = family_of(c.model_type);
  mx::array x = embed(m, family, tokens);
  for (int layer = 0; layer < c.num_hidden_layers; ++layer) {
    std::optional<mx::array> layer_keys;
    if (keys)
      layer_keys = mx::reshape(mx::slice(*keys, {layer, 0, 0}, {layer + 1, kDropoutSlots, 2}),
                               {kDropoutSlots, 2});
    const BlockLora lora = block_lora(options, layer, layer_keys);
    x = (options.checkpoint_layers && !cache) ? checkpointed_block(m, layer, x, lora)
                                              : block(m, layer, x, lora, cache);
  }
  if (cache) cache->offset += tokens.shape(1);
  return norm(m, family, x, "model.norm.weight");
}

mx::array lm_head(const Model& m, const mx::array& hidden) {
  // The embedding matrix when tied: [B, T, E] -> [B, T, V], returned in float32.
  const char* name = m.config.tie_word_embeddings ? "model.embed_tokens" : "lm_head";
  return mx::astype(frozen_linear(hidden, frozen_module(m, name)), mx::float32);
}

mx::array forward(const Model& m, const mx::array& tokens, const ForwardOptions& options, KVCache* cache) {
  return lm_head(m, forward_hidden(m, tokens, options, cache));
}

}  // namespace mlxft
