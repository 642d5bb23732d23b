// One-token decoding on plain buffers (see decode_step.h).
#include "mlxft/model/decode_step.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <vector>

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
  std::array<float, 8> acc{};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[static_cast<size_t>(j)] += a[i + j] * b[i + j];
  float s = 0.0f;
  for (; i < n; ++i) s += a[i] * b[i];
  for (float v : acc) s += v;
  return s;
}

// One frozen weight W [N, K]: quantized (the few-row kernel) or float32.
struct Matrix {
  int64_t N = 0, K = 0;
  std::optional<kernels::QuantizedRows> q;
  const float* f = nullptr;
  std::vector<mx::array> keep;

  // y[n] = (x W^T)[n] for n0 <= n < n1; xsum: x's group sums (quantized only).
  void rows(const float* x, const float* xsum, float* y, int64_t n0, int64_t n1) const {
    if (q) return kernels::quantized_rows_range(*q, x, xsum, 1, y, n0, n1);
    for (int64_t n = n0; n < n1; ++n) y[n] = dot(f + n * K, x, K);
  }
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

struct Layer {
  std::array<Projection, kProjectionCount> p;
  const float* input_norm = nullptr;
  const float* post_norm = nullptr;
  std::vector<float> k, v;  // [KV, capacity, D]
};

constexpr int kKvStep = 256;

class NativeDecode final : public DecodeStep {
 public:
  NativeDecode(const Model& m, const LoraAdapters* lora) : c_(m.config) {
    const Family& f = family_of(c_.model_type);
    if (f.model_type != "llama" && f.model_type != "mistral")
      throw Unsupported("a " + c_.model_type + " block (decoding takes llama and mistral)");
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
    x_.resize(static_cast<size_t>(E_));
    xn_.resize(static_cast<size_t>(E_));
    qkv_.resize(static_cast<size_t>((H_ + 2 * KV_) * D_));
    att_.resize(static_cast<size_t>(H_ * D_));
    proj_.resize(static_cast<size_t>(std::max(E_, 2 * F_)));
    act_.resize(static_cast<size_t>(F_));
    logits_.resize(static_cast<size_t>(V_));
  }

  void start(const KVCache& cache) override {
    pos_ = cache.offset;
    cap_ = 0;
    grow(pos_ + 1);
    if (pos_ == 0) return;
    for (size_t l = 0; l < layers_.size(); ++l) {
      const auto copy = [&](const mx::array& src, std::vector<float>& dst) {
        if (src.ndim() != 4 || src.shape(0) != 1 || src.shape(2) < pos_)
          throw std::invalid_argument("DecodeStep::start: the cache is not a batch-1 KVCache");
        mx::array s = mx::contiguous(mx::astype(mx::slice(src, {0, 0, 0, 0}, {1, static_cast<int>(KV_), pos_, static_cast<int>(D_)}), mx::float32));
        mx::eval(s);
        for (int h = 0; h < KV_; ++h)
          std::memcpy(dst.data() + static_cast<size_t>(h) * cap_ * D_, s.data<float>() + static_cast<size_t>(h) * pos_ * D_,
                      sizeof(float) * static_cast<size_t>(pos_) * D_);
      };
      copy(cache.keys[l], layers_[l].k);
      copy(cache.values[l], layers_[l].v);
    }
  }

  const float* step(int32_t token) override {
    if (token < 0 || token >= V_) throw std::out_of_range("DecodeStep::step: token id outside the vocab");
    grow(pos_ + 1);
    embed_row(token);
    for (size_t l = 0; l < layers_.size(); ++l) block(layers_[l]);
    rms_norm(x_.data(), final_norm_, xn_.data());
    project({&head_}, {nullptr}, xn_.data(), logits_.data());
    ++pos_;
    return logits_.data();
  }

  int offset() const override { return pos_; }
  int vocab_size() const override { return static_cast<int>(V_); }

 private:
  void load_layer(const Model& m, const LoraAdapters* lora, int l) {
    Layer& L = layers_[static_cast<size_t>(l)];
    const std::string p = "model.layers." + std::to_string(l) + ".";
    for (int j = 0; j < kProjectionCount; ++j) {
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
  }

  // Room for `positions` cached positions (whole steps of kKvStep), keeping those cached.
  void grow(int positions) {
    if (positions <= cap_) return;
    const int cap = (positions + kKvStep - 1) / kKvStep * kKvStep;
    for (Layer& L : layers_) {
      for (std::vector<float>* buf : {&L.k, &L.v}) {
        std::vector<float> next(static_cast<size_t>(KV_) * cap * D_);
        for (int h = 0; h < KV_ && cap_ > 0; ++h)
          std::memcpy(next.data() + static_cast<size_t>(h) * cap * D_, buf->data() + static_cast<size_t>(h) * cap_ * D_,
                      sizeof(float) * static_cast<size_t>(pos_) * D_);
        buf->swap(next);
      }
    }
    cap_ = cap;
  }

  void embed_row(int32_t token) {
    const Matrix& e = embed_;
    if (!e.q) {
      std::memcpy(x_.data(), e.f + static_cast<int64_t>(token) * E_, sizeof(float) * static_cast<size_t>(E_));
      return;
    }
    const kernels::QuantizedRows& q = *e.q;
    const int per = 32 / q.bits, groups = static_cast<int>(q.K / q.group);
    const uint32_t* row = q.w + static_cast<int64_t>(token) * (q.K / per);
    const uint32_t mask = (1u << q.bits) - 1u;
    for (int64_t k = 0; k < q.K; ++k) {
      const auto code = static_cast<float>((row[k / per] >> ((k % per) * q.bits)) & mask);
      const int64_t g = static_cast<int64_t>(token) * groups + k / q.group;
      x_[static_cast<size_t>(k)] = q.scales[g] * code + q.biases[g];
    }
  }

  void rms_norm(const float* x, const float* w, float* out) const {
    const float r = 1.0f / std::sqrt(dot(x, x, E_) / static_cast<float>(E_) + c_.rms_norm_eps);
    for (int64_t i = 0; i < E_; ++i) out[i] = x[i] * r * w[i];
  }

  // out = [x W_0^T | x W_1^T | ...] (+ each one's LoRA), the rows of every matrix split over the threads.
  void project(const std::vector<const Matrix*>& ws, const std::vector<const Lora*>& loras, const float* x,
               float* out) {
    const int64_t K = ws[0]->K;
    if (ws[0]->q) {
      const int group = ws[0]->q->group;
      xsum_.assign(static_cast<size_t>(K / group), 0.0f);
      for (int64_t k = 0; k < K; ++k) xsum_[static_cast<size_t>(k / group)] += x[k];
    }
    for (size_t i = 1; i < ws.size(); ++i) {
      if (ws[i]->K != K || (ws[i]->q.has_value() != ws[0]->q.has_value()) ||
          (ws[i]->q && ws[i]->q->group != ws[0]->q->group))
        return project_each(ws, loras, x, out);
    }
    std::vector<int64_t> starts{0};
    ax_.clear();
    std::vector<size_t> ax_at;
    for (size_t i = 0; i < ws.size(); ++i) {
      starts.push_back(starts.back() + ws[i]->N);
      ax_at.push_back(ax_.size());
      if (const Lora* a = loras[i]) {
        for (int64_t j = 0; j < a->r; ++j) ax_.push_back(a->scale * dot(a->a + j * K, x, K));
      }
    }
    kernels::parallel_for(
        starts.back(),
        [&](int64_t lo, int64_t hi) {
          for (size_t i = 0; i < ws.size(); ++i) {
            const int64_t n0 = std::max(lo, starts[i]) - starts[i], n1 = std::min(hi, starts[i + 1]) - starts[i];
            if (n0 >= n1) continue;
            float* y = out + starts[i];
            ws[i]->rows(x, xsum_.data(), y, n0, n1);
            if (const Lora* a = loras[i]) {
              const float* ax = ax_.data() + ax_at[i];
              for (int64_t n = n0; n < n1; ++n) y[n] += dot(a->b + n * a->r, ax, a->r);
            }
          }
        },
        64);
  }

  void project_each(const std::vector<const Matrix*>& ws, const std::vector<const Lora*>& loras, const float* x,
                    float* out) {
    for (size_t i = 0; i < ws.size(); ++i) {
      project({ws[i]}, {loras[i]}, x, out);
      out += ws[i]->N;
    }
  }

  const Lora* lora(const Layer& L, mlxft::Projection p) const {
    const auto& a = L.p[static_cast<size_t>(p)].lora;
    return a ? &*a : nullptr;
  }
  const Matrix* weight(const Layer& L, mlxft::Projection p) const {
    return &L.p[static_cast<size_t>(p)].w;
  }

  void rope(float* head) const {
    const int64_t h2 = D_ / 2;
    for (int64_t i = 0; i < h2; ++i) {
      const float a = static_cast<float>(pos_) * inv_freq_[static_cast<size_t>(i)];
      const float cs = std::cos(a), sn = std::sin(a), x0 = head[i], x1 = head[i + h2];
      head[i] = x0 * cs - x1 * sn;
      head[i + h2] = x1 * cs + x0 * sn;
    }
  }

  // softmax(q k^T / sqrt(D)) v over positions 0 .. pos_, head h of att_.
  void attend(const Layer& L, int64_t h, std::vector<float>& scores) {
    const int64_t kv = h / (H_ / KV_), S = pos_ + 1;
    const float* q = qkv_.data() + h * D_;
    const float* keys = L.k.data() + kv * cap_ * D_;
    const float* values = L.v.data() + kv * cap_ * D_;
    const float scale = 1.0f / std::sqrt(static_cast<float>(D_));
    scores.resize(static_cast<size_t>(S));
    float top = -INFINITY;
    for (int64_t s = 0; s < S; ++s) top = std::max(top, scores[static_cast<size_t>(s)] = dot(q, keys + s * D_, D_) * scale);
    float sum = 0.0f;
    for (float& v : scores) sum += (v = std::exp(v - top));
    float* o = att_.data() + h * D_;
    std::fill(o, o + D_, 0.0f);
    for (int64_t s = 0; s < S; ++s) {
      const float p = scores[static_cast<size_t>(s)] / sum;
      const float* v = values + s * D_;
      for (int64_t d = 0; d < D_; ++d) o[d] += p * v[d];
    }
  }

  void block(Layer& L) {
    using P = mlxft::Projection;
    rms_norm(x_.data(), L.input_norm, xn_.data());
    project({weight(L, P::Q), weight(L, P::K), weight(L, P::V)}, {lora(L, P::Q), lora(L, P::K), lora(L, P::V)},
            xn_.data(), qkv_.data());
    for (int64_t h = 0; h < H_ + KV_; ++h) rope(qkv_.data() + h * D_);
    for (int64_t h = 0; h < KV_; ++h) {
      const size_t at = static_cast<size_t>((h * cap_ + pos_) * D_);
      std::memcpy(L.k.data() + at, qkv_.data() + (H_ + h) * D_, sizeof(float) * static_cast<size_t>(D_));
      std::memcpy(L.v.data() + at, qkv_.data() + (H_ + KV_ + h) * D_, sizeof(float) * static_cast<size_t>(D_));
    }
    kernels::parallel_for(H_, [&](int64_t h0, int64_t h1) {
      std::vector<float> scores;
      for (int64_t h = h0; h < h1; ++h) attend(L, h, scores);
    });
    project({weight(L, P::O)}, {lora(L, P::O)}, att_.data(), proj_.data());
    for (int64_t i = 0; i < E_; ++i) x_[static_cast<size_t>(i)] += proj_[static_cast<size_t>(i)];
    rms_norm(x_.data(), L.post_norm, xn_.data());
    project({weight(L, P::Gate), weight(L, P::Up)}, {lora(L, P::Gate), lora(L, P::Up)}, xn_.data(), proj_.data());
    for (int64_t i = 0; i < F_; ++i) {
      const float g = proj_[static_cast<size_t>(i)], u = proj_[static_cast<size_t>(F_ + i)];
      act_[static_cast<size_t>(i)] = g * (1.0f / (1.0f + std::exp(-g))) * u;
    }
    project({weight(L, P::Down)}, {lora(L, P::Down)}, act_.data(), proj_.data());
    for (int64_t i = 0; i < E_; ++i) x_[static_cast<size_t>(i)] += proj_[static_cast<size_t>(i)];
  }

  ModelConfig c_;
  int64_t E_ = 0, H_ = 0, KV_ = 0, D_ = 0, F_ = 0, V_ = 0;
  std::vector<float> inv_freq_;
  Matrix embed_, head_;
  const float* final_norm_ = nullptr;
  std::vector<mx::array> keep_;
  std::vector<Layer> layers_;
  int pos_ = 0, cap_ = 0;
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
