// One-token decoding on plain buffers (see decode_step.h).
#include "mlxft/model/decode_step.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "mlxft/kernels/decode_ops.h"
#include "mlxft/kernels/parallel.h"
#include "mlxft/kernels/quantized_rows.h"
#include "mlxft/model/family.h"
#include "mlxft/model/rope.h"

namespace mx = mlx::core;

namespace mlxft {
namespace {

// Why a model is not taken (make() turns it into why_not).
struct Unsupported : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A float32 array's data, evaluated and row-major; `keep` owns it.
const float* f32_data(const mx::array& a, std::vector<mx::array>& keep) {
  mx::array c = mx::contiguous(a.dtype() == mx::float32 ? a : mx::astype(a, mx::float32));
  mx::eval(c);
  keep.push_back(c);
  return c.data<float>();
}

float dot(const float* a, const float* b, int64_t n) {
  return kernels::dot_f32(a, b, n);
}

// One frozen weight W [N, K]: quantized (the few-row kernel) or float32.
struct Matrix {
  int64_t N = 0, K = 0;
  std::optional<kernels::QuantizedRows> q;
  const float* f = nullptr;
  std::vector<mx::array> keep;

};

Matrix matrix(const Model& m, const std::string& module) {
  Matrix w;
  const mx::array& stored = m.weight(module + ".weight");
  if (const auto q = m.quantization.find(module); q != m.quantization.end()) {
    if ((q->second.bits != 4 && q->second.bits != 8) || q->second.group_size % 32 != 0)
      throw Unsupported(module + " is " + std::to_string(q->second.bits) + "-bit (the kernel takes 4 and 8)");
    const kernels::FrozenLinearWeightPtr kw = kernel_weight(m, module + ".weight");
    if (!kw || !kw->quantized()) throw Unsupported(module + " has no quantized kernel weight");
    w.q = kernels::quantized_rows_view(*kw, w.keep);
    w.N = w.q->N, w.K = w.q->K;
    return w;
  }
  if (stored.dtype() != mx::float32 || stored.ndim() != 2)
    throw Unsupported(module + " is not float32 (decoding reads float32 or 4/8-bit weights)");
  w.N = stored.shape(0), w.K = stored.shape(1);
  w.f = f32_data(stored, w.keep);
  return w;
}

// A LoRA pair as float32: A [r, K], B [N, r].
struct Lora {
  int64_t r = 0;
  const float* a = nullptr;
  const float* b = nullptr;
  float scale = 1.0f;
};

struct Projection {
  Matrix w;
  std::optional<Lora> lora;
  std::vector<mx::array> keep;
};

// The Llama block's seven separate projections (Projection::Q .. Projection::Down); the fused ones
// (Phi-3's QKV, GateUp) are not decoded here.
constexpr int kSeparateProjections = static_cast<int>(mlxft::Projection::Down) + 1;

struct Layer {
  std::array<Projection, kSeparateProjections> p;  // by mlxft::Projection, Q .. Down
  const float* input_norm = nullptr;
  const float* post_norm = nullptr;
  std::array<const float*, 3> qkv_bias{};  // Qwen2: q, k, v
  const float* q_norm = nullptr;           // Qwen3: over each head
  const float* k_norm = nullptr;
  std::vector<std::vector<float>> k, v;  // per row: [KV, capacity(row), D]
};

constexpr int kKvStep = 256;
constexpr int64_t kKernelRows = 8;  // the few-row kernel's most rows a call

class NativeDecode final : public DecodeStep {
 public:
  NativeDecode(const Model& m, const LoraAdapters* lora) : c_(m.config) {
    const Family& f = family_of(c_.model_type);
    // The Llama block, with Qwen2's q/k/v biases and Qwen3's q/k norms (Gemma's block and fused
    // projections are not computed here).
    if (f.model_type != "llama" && f.model_type != "mistral" && f.model_type != "qwen2" && f.model_type != "qwen3")
      throw Unsupported("a " + c_.model_type + " block (decoding takes llama, mistral, qwen2 and qwen3)");
    qkv_bias_ = f.qkv_bias;
    qk_norm_ = f.qk_norm;
    if (!c_.sliding_layers.empty() || c_.sliding_window > 0) throw Unsupported("a sliding-window model");
    if (!cpu_kernels_apply(m) || m.kernel_dtype() != mx::float32)
      throw Unsupported("not float32 compute on the CPU kernels");
    if (lora && lora->config.kind != AdapterKind::lora) throw Unsupported("a DoRA adapter");
    E_ = c_.hidden_size, H_ = c_.num_attention_heads, KV_ = c_.num_key_value_heads, D_ = c_.head_dim;
    F_ = c_.intermediate_size, V_ = c_.vocab_size;
    for (double v : rope_inverse_frequencies(c_)) inv_freq_.push_back(static_cast<float>(v));
    embed_ = matrix(m, "model.embed_tokens");
    const std::string head = lm_head_name(m);
    head_ = matrix(m, head.substr(0, head.rfind('.')));
    final_norm_ = f32_data(m.weight("model.norm.weight"), keep_);
    layers_.resize(static_cast<size_t>(c_.num_hidden_layers));
    for (int l = 0; l < c_.num_hidden_layers; ++l) load_layer(m, lora, l);
  }

  void start(const KVCache& cache) override {
    len_.clear();
    shift_.clear();
    resize_rows(0);
    add(cache);
  }

  void add(const KVCache& cache) override {
    const int B = cache.keys.empty() ? 1 : cache.keys[0].shape(0);
    if (!cache.left_pad.empty() && static_cast<int>(cache.left_pad.size()) != B)
      throw std::invalid_argument("DecodeStep::add: left_pad does not match the cache's rows");
    const int64_t first = R_;
    for (int b = 0; b < B; ++b) {
      const int pad = cache.left_pad.empty() ? 0 : cache.left_pad[static_cast<size_t>(b)];
      shift_.push_back(pad);
      len_.push_back(cache.offset - pad);
    }
    resize_rows(static_cast<int>(first) + B);
    grow();
    for (size_t l = 0; l < layers_.size() && cache.offset > 0; ++l) {
      copy_rows(cache.keys[l], cache.offset, first, layers_[l].k);
      copy_rows(cache.values[l], cache.offset, first, layers_[l].v);
    }
  }

  const float* step(const std::vector<int32_t>& tokens) override {
    if (static_cast<int64_t>(tokens.size()) != R_) throw std::invalid_argument("DecodeStep::step: one token per row");
    for (int32_t t : tokens)
      if (t < 0 || t >= V_) throw std::out_of_range("DecodeStep::step: token id outside the vocab");
    grow();
    for (int64_t r = 0; r < R_; ++r) embed_row(tokens[static_cast<size_t>(r)], x_.data() + r * E_);
    for (Layer& L : layers_) block(L);
    rms_norm(x_.data(), final_norm_, xn_.data());
    project({&head_}, {nullptr}, xn_.data(), logits_.data());
    for (int& n : len_) ++n;
    return logits_.data();
  }

  void keep(const std::vector<int32_t>& rows) override {
    auto pick = [&](auto& v) {
      std::remove_reference_t<decltype(v)> kept;
      for (int32_t r : rows) kept.push_back(std::move(v.at(static_cast<size_t>(r))));
      v = std::move(kept);
    };
    pick(len_);
    pick(shift_);
    for (Layer& L : layers_) {
      pick(L.k);
      pick(L.v);
    }
    resize_rows(static_cast<int>(rows.size()));
  }

  int rows() const override { return static_cast<int>(R_); }
  int offset() const override {
    int most = 0;
    for (size_t r = 0; r < len_.size(); ++r) most = std::max(most, shift_[r] + len_[r]);
    return most;
  }
  int vocab_size() const override { return static_cast<int>(V_); }

 private:
  void load_layer(const Model& m, const LoraAdapters* lora, int l) {
    Layer& L = layers_[static_cast<size_t>(l)];
    const std::string p = "model.layers." + std::to_string(l) + ".";
    for (int j = 0; j < kSeparateProjections; ++j) {
      const auto proj = static_cast<mlxft::Projection>(j);
      const bool attn = proj == mlxft::Projection::Q || proj == mlxft::Projection::K ||
                        proj == mlxft::Projection::V || proj == mlxft::Projection::O;
      Projection& P = L.p[static_cast<size_t>(j)];
      P.w = matrix(m, p + (attn ? "self_attn." : "mlp.") + projection_name(proj));
      if (!lora) continue;
      if (const LoraPair* pair = lora->find(lora_module_path(l, projection_name(proj)))) {
        Lora a;
        a.r = pair->a.shape(0);
        a.a = f32_data(pair->a, P.keep);
        a.b = f32_data(pair->b, P.keep);
        a.scale = lora->config.scale();
        if (pair->a.shape(1) != P.w.K || pair->b.shape(0) != P.w.N)
          throw std::invalid_argument("DecodeStep: adapter shape does not fit " + projection_name(proj));
        P.lora = a;
      }
    }
    L.input_norm = f32_data(m.weight(p + "input_layernorm.weight"), keep_);
    L.post_norm = f32_data(m.weight(p + "post_attention_layernorm.weight"), keep_);
    if (qkv_bias_) {
      const char* names[3] = {"q_proj", "k_proj", "v_proj"};
      for (size_t i = 0; i < 3; ++i) L.qkv_bias[i] = f32_data(m.weight(p + "self_attn." + names[i] + ".bias"), keep_);
    }
    if (qk_norm_) {
      L.q_norm = f32_data(m.weight(p + "self_attn.q_norm.weight"), keep_);
      L.k_norm = f32_data(m.weight(p + "self_attn.k_norm.weight"), keep_);
    }
  }

  // Sizes the per-row buffers for R rows (the caches keep what they hold).
  void resize_rows(int R) {
    R_ = R;
    const auto n = [&](int64_t per_row) { return static_cast<size_t>(R_ * per_row); };
    x_.resize(n(E_));
    xn_.resize(n(E_));
    qkv_.resize(n((H_ + 2 * KV_) * D_));
    att_.resize(n(H_ * D_));
    proj_.resize(n(std::max(E_, 2 * F_)));
    act_.resize(n(F_));
    logits_.resize(n(V_));
    for (Layer& L : layers_) {
      L.k.resize(static_cast<size_t>(R_));
      L.v.resize(static_cast<size_t>(R_));
    }
  }

  // Each row b of src [B, KV, >= positions, D] without its padding, into dst[first + b] from position 0.
  void copy_rows(const mx::array& src, int positions, int64_t first, std::vector<std::vector<float>>& dst) const {
    const int B = src.ndim() == 4 ? src.shape(0) : 0;
    if (B == 0 || first + B > R_ || src.shape(2) < positions)
      throw std::invalid_argument("DecodeStep::add: the cache does not hold its offset's positions");
    const mx::array all = mx::contiguous(mx::astype(
        mx::slice(src, {0, 0, 0, 0}, {B, static_cast<int>(KV_), positions, static_cast<int>(D_)}), mx::float32));
    mx::eval(all);
    for (int64_t b = 0; b < B; ++b) {
      const auto r = static_cast<size_t>(first + b);
      for (int64_t h = 0; h < KV_; ++h)
        std::memcpy(dst[r].data() + h * capacity(first + b) * D_, all.data<float>() + ((b * KV_ + h) * positions + shift_[r]) * D_,
                    sizeof(float) * static_cast<size_t>(len_[r] * D_));
    }
  }

  // Positions row r's buffers hold (their size says it).
  int64_t capacity(int64_t r) const {
    return static_cast<int64_t>(layers_[0].k[static_cast<size_t>(r)].size()) / (KV_ * D_);
  }

  // Room in each row's buffers for one more position than it holds (whole steps of kKvStep), keeping what
  // they hold; new rows get their buffers here.
  void grow() {
    for (int64_t r = 0; r < R_; ++r) {
      const int64_t len = len_[static_cast<size_t>(r)], old = capacity(r);
      if (len + 1 <= old) continue;
      const int64_t cap = (len + 1 + kKvStep - 1) / kKvStep * kKvStep;
      for (Layer& L : layers_) {
        for (auto* rows : {&L.k, &L.v}) {
          std::vector<float>& buf = (*rows)[static_cast<size_t>(r)];
          std::vector<float> next(static_cast<size_t>(KV_ * cap * D_));
          for (int64_t h = 0; h < KV_ && old > 0; ++h)
            std::memcpy(next.data() + h * cap * D_, buf.data() + h * old * D_, sizeof(float) * static_cast<size_t>(len * D_));
          buf.swap(next);
        }
      }
    }
  }

  void embed_row(int32_t token, float* x) const {
    const Matrix& e = embed_;
    if (!e.q) {
      std::memcpy(x, e.f + static_cast<int64_t>(token) * E_, sizeof(float) * static_cast<size_t>(E_));
      return;
    }
    kernels::quantized_rows_dequantize_row(*e.q, token, x);
  }

  // x [n] normalised into out (RMSNorm with the model's eps).
  void rms_norm_row(const float* x, const float* w, int64_t n, float* out) const {
    const float inv = 1.0f / std::sqrt(dot(x, x, n) / static_cast<float>(n) + c_.rms_norm_eps);
    for (int64_t i = 0; i < n; ++i) out[i] = x[i] * inv * w[i];
  }

  // Each row of x [R, E] normalised into out.
  void rms_norm(const float* x, const float* w, float* out) const {
    for (int64_t r = 0; r < R_; ++r) rms_norm_row(x + r * E_, w, E_, out + r * E_);
  }

  // For x [R, K]: out holds x W_0^T [R, N_0], then x W_1^T [R, N_1], ... (+ each one's LoRA); the rows of
  // every matrix split over the threads. The matrices share K (and, quantized, the group).
  void project(const std::vector<const Matrix*>& ws, const std::vector<const Lora*>& loras, const float* x,
               float* out) {
    const int64_t K = ws[0]->K;
    int64_t group = 0;
    for (size_t i = 0; i < ws.size(); ++i) {
      const int64_t g = ws[i]->q ? ws[i]->q->group : 0;
      if (ws[i]->K != K || (g != 0 && group != 0 && g != group)) {  // one matrix at a time
        for (size_t j = 0; j < ws.size(); ++j) {
          project({ws[j]}, {loras[j]}, x, out);
          out += R_ * ws[j]->N;
        }
        return;
      }
      group = std::max(group, g);
    }
    if (group > 0) {
      const int64_t groups = K / group;
      xsum_.assign(static_cast<size_t>(R_ * groups), 0.0f);
      for (int64_t r = 0; r < R_; ++r)
        for (int64_t k = 0; k < K; ++k) xsum_[static_cast<size_t>(r * groups + k / group)] += x[r * K + k];
    }
    std::vector<int64_t> starts{0};
    std::vector<size_t> ax_at;
    ax_.clear();
    for (size_t i = 0; i < ws.size(); ++i) {
      starts.push_back(starts.back() + ws[i]->N);
      ax_at.push_back(ax_.size());
      if (const Lora* a = loras[i])  // scale * x A^T, [R, r]
        for (int64_t r = 0; r < R_; ++r)
          for (int64_t j = 0; j < a->r; ++j) ax_.push_back(a->scale * dot(a->a + j * K, x + r * K, K));
    }
    kernels::parallel_for(
        starts.back(),
        [&](int64_t lo, int64_t hi) {
          for (size_t i = 0; i < ws.size(); ++i) {
            const int64_t n0 = std::max(lo, starts[i]) - starts[i], n1 = std::min(hi, starts[i + 1]) - starts[i];
            if (n0 < n1) rows_of(*ws[i], loras[i], ax_.data() + ax_at[i], x, out + R_ * starts[i], n0, n1);
          }
        },
        64);
  }

  // Outputs n0 .. n1 of one matrix for every row: y [R, N].
  void rows_of(const Matrix& w, const Lora* a, const float* ax, const float* x, float* y, int64_t n0,
               int64_t n1) const {
    for (int64_t r0 = 0; r0 < R_; r0 += kKernelRows) {
      const int64_t m = std::min(kKernelRows, R_ - r0);
      if (w.q) {
        const int64_t groups = w.K / w.q->group;
        kernels::quantized_rows_range(*w.q, x + r0 * w.K, xsum_.data() + r0 * groups, m, y + r0 * w.N, n0, n1);
      } else {
        for (int64_t r = r0; r < r0 + m; ++r)
          for (int64_t n = n0; n < n1; ++n) y[r * w.N + n] = dot(w.f + n * w.K, x + r * w.K, w.K);
      }
    }
    if (!a) return;
    for (int64_t r = 0; r < R_; ++r)
      for (int64_t n = n0; n < n1; ++n) y[r * w.N + n] += dot(a->b + n * a->r, ax + r * a->r, a->r);
  }

  const Lora* lora(const Layer& L, mlxft::Projection p) const {
    const auto& a = L.p[static_cast<size_t>(p)].lora;
    return a ? &*a : nullptr;
  }
  const Matrix* weight(const Layer& L, mlxft::Projection p) const {
    return &L.p[static_cast<size_t>(p)].w;
  }

  // Rotates one head [D] to RoPE position `position` (rotate-half, as kernels/rope_heads does).
  void rope(float* head, int64_t position) const {
    const int64_t h2 = D_ / 2;
    for (int64_t i = 0; i < h2; ++i) {
      const float a = static_cast<float>(position) * inv_freq_[static_cast<size_t>(i)];
      const float cs = std::cos(a), sn = std::sin(a), x0 = head[i], x1 = head[i + h2];
      head[i] = x0 * cs - x1 * sn;
      head[i + h2] = x1 * cs + x0 * sn;
    }
  }

  float* q_of(int64_t r, int64_t h) { return qkv_.data() + (r * H_ + h) * D_; }
  float* k_of(int64_t r, int64_t h) { return qkv_.data() + (R_ * H_ + r * KV_ + h) * D_; }
  float* v_of(int64_t r, int64_t h) { return qkv_.data() + (R_ * (H_ + KV_) + r * KV_ + h) * D_; }

  // Row r's new q, k and v: biased (Qwen2), q and k normalised per head (Qwen3) and rotated; k and v
  // appended to the row's cache.
  void rotate_and_cache(Layer& L, int64_t r) {
    const int64_t len = len_[static_cast<size_t>(r)], position = shift_[static_cast<size_t>(r)] + len;
    if (qkv_bias_) {
      for (int64_t i = 0; i < H_ * D_; ++i) q_of(r, 0)[i] += L.qkv_bias[0][i];
      for (int64_t i = 0; i < KV_ * D_; ++i) k_of(r, 0)[i] += L.qkv_bias[1][i], v_of(r, 0)[i] += L.qkv_bias[2][i];
    }
    if (qk_norm_) {
      for (int64_t h = 0; h < H_; ++h) rms_norm_row(q_of(r, h), L.q_norm, D_, q_of(r, h));
      for (int64_t h = 0; h < KV_; ++h) rms_norm_row(k_of(r, h), L.k_norm, D_, k_of(r, h));
    }
    for (int64_t h = 0; h < H_; ++h) rope(q_of(r, h), position);
    for (int64_t h = 0; h < KV_; ++h) {
      rope(k_of(r, h), position);
      const size_t at = static_cast<size_t>((h * capacity(r) + len) * D_);
      std::memcpy(L.k[static_cast<size_t>(r)].data() + at, k_of(r, h), sizeof(float) * static_cast<size_t>(D_));
      std::memcpy(L.v[static_cast<size_t>(r)].data() + at, v_of(r, h), sizeof(float) * static_cast<size_t>(D_));
    }
  }

  // softmax(q k^T / sqrt(D)) v over row r's positions 0 .. len, head h, into att_.
  void attend(const Layer& L, int64_t r, int64_t h, std::vector<float>& scores) {
    const int64_t kv = h / (H_ / KV_), S = len_[static_cast<size_t>(r)] + 1, cap = capacity(r);
    scores.resize(static_cast<size_t>(S));
    kernels::attend_one(q_of(r, h), L.k[static_cast<size_t>(r)].data() + kv * cap * D_,
                        L.v[static_cast<size_t>(r)].data() + kv * cap * D_, S, D_,
                        1.0f / std::sqrt(static_cast<float>(D_)), scores.data(), att_.data() + (r * H_ + h) * D_);
  }

  void add_rows(const float* y) {
    for (size_t i = 0; i < x_.size(); ++i) x_[i] += y[i];
  }

  void block(Layer& L) {
    using P = mlxft::Projection;
    rms_norm(x_.data(), L.input_norm, xn_.data());
    project({weight(L, P::Q), weight(L, P::K), weight(L, P::V)}, {lora(L, P::Q), lora(L, P::K), lora(L, P::V)},
            xn_.data(), qkv_.data());
    for (int64_t r = 0; r < R_; ++r) rotate_and_cache(L, r);
    kernels::parallel_for(R_ * H_, [&](int64_t i0, int64_t i1) {
      std::vector<float> scores;
      for (int64_t i = i0; i < i1; ++i) attend(L, i / H_, i % H_, scores);
    });
    project({weight(L, P::O)}, {lora(L, P::O)}, att_.data(), proj_.data());
    add_rows(proj_.data());
    rms_norm(x_.data(), L.post_norm, xn_.data());
    project({weight(L, P::Gate), weight(L, P::Up)}, {lora(L, P::Gate), lora(L, P::Up)}, xn_.data(), proj_.data());
    for (int64_t i = 0; i < R_ * F_; ++i) {
      const float g = proj_[static_cast<size_t>(i)], u = proj_[static_cast<size_t>(R_ * F_ + i)];
      act_[static_cast<size_t>(i)] = g * (1.0f / (1.0f + std::exp(-g))) * u;
    }
    project({weight(L, P::Down)}, {lora(L, P::Down)}, act_.data(), proj_.data());
    add_rows(proj_.data());
  }

  ModelConfig c_;
  bool qkv_bias_ = false, qk_norm_ = false;
  int64_t E_ = 0, H_ = 0, KV_ = 0, D_ = 0, F_ = 0, V_ = 0, R_ = 0;
  std::vector<float> inv_freq_;
  Matrix embed_, head_;
  const float* final_norm_ = nullptr;
  std::vector<mx::array> keep_;
  std::vector<Layer> layers_;
  std::vector<int> len_, shift_;  // per row: positions cached; RoPE position of cache position 0
  std::vector<float> x_, xn_, qkv_, att_, proj_, act_, logits_, xsum_, ax_;
};

}  // namespace

std::unique_ptr<DecodeStep> DecodeStep::make(const Model& model, const LoraAdapters* lora, std::string* why_not) {
  const char* env = std::getenv("MLXFT_NATIVE_DECODE");
  if (env && std::string(env) == "0") {
    if (why_not) *why_not = "MLXFT_NATIVE_DECODE=0";
    return nullptr;
  }
  try {
    return std::make_unique<NativeDecode>(model, lora);
  } catch (const Unsupported& e) {
    if (why_not) *why_not = e.what();
    return nullptr;
  }
}

}  // namespace mlxft
