// The fused causal attention primitives (see causal_attention.h).
#include "mlxft/kernels/causal_attention.h"

#include <mlx/primitives.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <stdexcept>
#include <vector>

#include "mlxft/kernels/attention_blocks.h"
#include "mlxft/kernels/cpu_encoder.h"
#include "mlxft/kernels/parallel.h"
#include "mlxft/kernels/switches.h"
#include "mlxft/util/error.h"

namespace mlxft::kernels {
namespace {

namespace ab = attention;

constexpr int64_t kQueryBlock = 64;  // Br: query rows per block
constexpr int64_t kKeyBlock = 64;    // Bc: keys per block

// The sizes of one call; element offsets into the contiguous arrays.
struct Dims {
  int64_t B, H, K, T, S, D;
  int64_t G() const { return H / K; }
  int64_t off() const { return S - T; }  // query t sees keys s <= t + off
  int64_t q_row(int64_t b, int64_t h, int64_t t) const { return ((b * H + h) * T + t) * D; }
  int64_t k_row(int64_t b, int64_t kv, int64_t s) const { return ((b * K + kv) * S + s) * D; }
};

Dims dims_of(const mx::array& q, const mx::array& k) {
  return {q.shape(0), q.shape(1), k.shape(1), q.shape(2), k.shape(2), q.shape(3)};
}

// Byte pointer to element `at` of a float32 or bfloat16 buffer.
const void* element_ptr(const void* base, bool bf16, int64_t i) {
  return static_cast<const char*>(base) + i * (bf16 ? 2 : 4);
}
void* element_ptr(void* base, bool bf16, int64_t i) {
  return static_cast<char*>(base) + i * (bf16 ? 2 : 4);
}

int64_t padded(int64_t n) {
  return (n + kKeyBlock - 1) / kKeyBlock * kKeyBlock;  // kQueryBlock == kKeyBlock
}

// One thread's blocks: float32 staging and packed operands (ab::Packing's words).
struct Scratch {
  explicit Scratch(int64_t D)
      : a(kQueryBlock * D),
        b(kKeyBlock * D),
        c(kQueryBlock * D),
        kt(D * kKeyBlock),
        s(kQueryBlock * kKeyBlock),
        s2(kQueryBlock * kKeyBlock),
        o(kQueryBlock * D),
        m(kQueryBlock),
        l(kQueryBlock) {
    const size_t block = static_cast<size_t>(std::max(kKeyBlock, D) * std::max(kKeyBlock, D));
    for (auto* p : {&pa, &pb, &pc, &pd}) p->resize(block);
  }
  std::vector<float> a, b, c, kt, s, s2, o, m, l;
  std::vector<uint32_t> pa, pb, pc, pd;
  // The backward's G query heads of one KV head, once a task: float32 staging (rows [Tp, D], transposes
  // [D, Tp]; Tp = T padded to whole blocks, zeros past T), the packed B operands (q and dO as rows for
  // dK and dV, as transposes for the scores), and dQ^T [G][D][Tp].
  std::vector<float> rows, cols, dqt;
  std::vector<uint32_t> q_rows, q_cols, do_rows, do_cols;
};

// n rows of D at src (float32 or bfloat16) packed as B operands: rows [words(padded(n))][D] into `rows`
// and the transpose [words(D)][padded(n)] into `cols` (zeros past n; either may be null), staged
// through w.rows / w.cols.
void pack_head(const ab::Packing& pk, const void* src, bool bf16, int64_t n, int64_t D, Scratch& w,
               uint32_t* rows, uint32_t* cols) {
  const int64_t np = padded(n);
  if (rows) {
    w.rows.resize(static_cast<size_t>(np * D));
    ab::load_block(src, bf16, n, D, np, w.rows.data());
    pk.pack_b(np, D, w.rows.data(), D, rows);
  }
  if (cols) {
    w.cols.resize(static_cast<size_t>(np * D));
    ab::load_block_t(src, bf16, n, D, np, w.cols.data());
    pk.pack_b(D, np, w.cols.data(), np, cols);
  }
}

struct Forward {
  Dims d;
  float scale;
  bool bf16;  // q, k, v, o in bfloat16 (else float32)
  const ab::Packing& pk;
  const void* q;
  const uint32_t *v, *kt;  // per KV head, packed B operands: V [words(Sp)][D] and K^T [words(D)][Sp]
  const float* bias;       // [B, S] or null
  void* o;
  float* lse;

  // One (batch, head, query block).
  void task(int64_t index, Scratch& w) const {
    const int64_t nqb = (d.T + kQueryBlock - 1) / kQueryBlock, D = d.D;
    const int64_t q0 = index % nqb * kQueryBlock, h = index / nqb % d.H, b = index / nqb / d.H;
    const int64_t rows = std::min(kQueryBlock, d.T - q0), kv = h / d.G();
    ab::load_block(element_ptr(q, bf16, d.q_row(b, h, q0)), bf16, rows, D, rows, w.a.data());
    const ab::PackedA qa = pk.pack_a(rows, D, w.a.data(), D, w.pa.data());
    std::fill(w.m.begin(), w.m.end(), -std::numeric_limits<float>::infinity());
    std::fill(w.l.begin(), w.l.end(), 0.0f);
    std::fill(w.o.begin(), w.o.end(), 0.0f);
    const int64_t key_end = std::min(d.S, q0 + rows + d.off());  // keys past it are above the diagonal
    const int64_t Sp = padded(d.S), head = b * d.K + kv;
    const uint32_t* kth = kt + head * pk.words(D) * Sp;
    const uint32_t* vh = v + head * pk.words(Sp) * D;
    for (int64_t k0 = 0; k0 < key_end; k0 += kKeyBlock) {
      const int64_t cols = std::min(kKeyBlock, d.S - k0);
      pk.gemm(rows, kKeyBlock, D, qa, kth + k0, Sp, w.s.data(), kKeyBlock, false);
      for (int64_t i = 0; i < rows; ++i) {
        const int64_t nv = std::min(cols, q0 + i + d.off() - k0 + 1);
        const float alpha = ab::online_softmax_row(w.s.data() + i * kKeyBlock, nv, kKeyBlock, scale,
                                                   bias ? bias + b * d.S + k0 : nullptr, w.m[i], w.l[i]);
        if (alpha != 1.0f)
          for (int64_t e = 0; e < D; ++e) w.o[i * D + e] *= alpha;
      }
      // P is 0 past the visible keys and V's padded rows are 0: the whole block is one product.
      const ab::PackedA pa = pk.pack_a(rows, kKeyBlock, w.s.data(), kKeyBlock, w.pb.data());
      pk.gemm(rows, D, kKeyBlock, pa, pk.b_from(vh, k0, D), D, w.o.data(), D, true);
    }
    for (int64_t i = 0; i < rows; ++i) {
      ab::store_block(w.o.data() + i * D, 1, D, 1.0f / w.l[i], element_ptr(o, bf16, d.q_row(b, h, q0 + i)), bf16);
      lse[(b * d.H + h) * d.T + q0 + i] = w.m[i] + std::log(w.l[i]);
    }
  }
};

struct Backward {
  Dims d;
  float scale;
  bool bf16;
  const ab::Packing& pk;
  const void *q, *k, *v, *o, *dout;
  const float* lse;
  const float* bias;
  void *dq, *dk, *dv;

  // delta[g T + t] = sum_e dO[t, e] o[t, e] for the query heads g of KV head kv.
  std::vector<float> deltas(int64_t b, int64_t kv, Scratch& w) const {
    std::vector<float> delta(static_cast<size_t>(d.G() * d.T));
    for (int64_t g = 0; g < d.G(); ++g)
      for (int64_t t = 0; t < d.T; ++t) {
        const int64_t row = d.q_row(b, kv * d.G() + g, t);
        ab::load_block(element_ptr(o, bf16, row), bf16, 1, d.D, 1, w.a.data());
        ab::load_block(element_ptr(dout, bf16, row), bf16, 1, d.D, 1, w.c.data());
        float sum = 0.0f;
        for (int64_t e = 0; e < d.D; ++e) sum += w.a[e] * w.c[e];
        delta[g * d.T + t] = sum;
      }
    return delta;
  }

  // The key block at k0 (cols keys) packed as the A operands of its products.
  struct KeyBlock {
    ab::PackedA k, v, kt;  // K [cols, D], V [cols, D], K^T [D, cols]
  };

  // One query block of query head g against the key block at k0: accumulates dK (dk_acc), dV (dv_acc)
  // and dQ^T (w.dqt).
  void pair(int64_t b, int64_t kv, int64_t g, int64_t q0, int64_t k0, int64_t cols, const KeyBlock& kb,
            const float* delta, float* dk_acc, float* dv_acc, Scratch& w) const {
    const int64_t D = d.D, rows = std::min(kQueryBlock, d.T - q0), h = kv * d.G() + g, Tp = padded(d.T);
    const int64_t row_panel = pk.words(Tp) * D, col_panel = pk.words(D) * Tp;
    float* st = w.s.data();    // [cols, Br]: P^T after backward_row
    float* dst = w.s2.data();  // [cols, Br]: dS^T after backward_row
    pk.gemm(cols, kQueryBlock, D, kb.k, w.q_cols.data() + g * col_panel + q0, Tp, st, kQueryBlock, false);
    pk.gemm(cols, kQueryBlock, D, kb.v, w.do_cols.data() + g * col_panel + q0, Tp, dst, kQueryBlock, false);
    const float* lrow = lse + (b * d.H + h) * d.T + q0;
    for (int64_t j = 0; j < cols; ++j) {
      const int64_t first = k0 + j - d.off() - q0;  // earlier queries do not see key k0 + j
      ab::backward_row(st + j * kQueryBlock, dst + j * kQueryBlock, first, rows, scale,
                       bias ? bias[b * d.S + k0 + j] : 0.0f, lrow, delta + g * d.T + q0);
    }
    // Columns past `rows` of P^T and dS^T are 0 (padded queries), as are the padded rows of q and dO.
    const ab::PackedA p = pk.pack_a(cols, kQueryBlock, st, kQueryBlock, w.pd.data());
    pk.gemm(cols, D, kQueryBlock, p, pk.b_from(w.do_rows.data() + g * row_panel, q0, D), D, dv_acc, D, true);
    const ab::PackedA ds = pk.pack_a(cols, kQueryBlock, dst, kQueryBlock, w.pd.data());
    pk.gemm(cols, D, kQueryBlock, ds, pk.b_from(w.q_rows.data() + g * row_panel, q0, D), D, dk_acc, D, true);
    // dQ^T [D, Br] += K^T [D, cols] dS^T [cols, Br]: no transpose of dS.
    pk.pack_b(cols, kQueryBlock, dst, kQueryBlock, w.pd.data());
    pk.gemm(D, kQueryBlock, cols, kb.kt, w.pd.data(), kQueryBlock, w.dqt.data() + g * D * Tp + q0, Tp, true);
  }

  // The packed q and dO of the G query heads of (b, kv), as rows and as transposes.
  void pack_queries(int64_t b, int64_t kv, Scratch& w) const {
    const int64_t D = d.D, G = d.G(), Tp = padded(d.T);
    const int64_t row_panel = pk.words(Tp) * D, col_panel = pk.words(D) * Tp;
    for (auto* p : {&w.q_rows, &w.do_rows}) p->resize(static_cast<size_t>(G * row_panel));
    for (auto* p : {&w.q_cols, &w.do_cols}) p->resize(static_cast<size_t>(G * col_panel));
    for (int64_t g = 0; g < G; ++g) {
      const int64_t row = d.q_row(b, kv * G + g, 0);
      pack_head(pk, element_ptr(q, bf16, row), bf16, d.T, D, w, w.q_rows.data() + g * row_panel,
                w.q_cols.data() + g * col_panel);
      pack_head(pk, element_ptr(dout, bf16, row), bf16, d.T, D, w, w.do_rows.data() + g * row_panel,
                w.do_cols.data() + g * col_panel);
    }
  }

  // One (batch, KV head): its dK, dV and the dQ of its G query heads.
  void task(int64_t index, Scratch& w) const {
    const int64_t b = index / d.K, kv = index % d.K, D = d.D, G = d.G(), Tp = padded(d.T);
    const std::vector<float> delta = deltas(b, kv, w);
    pack_queries(b, kv, w);
    w.dqt.assign(static_cast<size_t>(G * D * Tp), 0.0f);
    std::vector<float> dk_acc(kKeyBlock * D), dv_acc(kKeyBlock * D);
    for (int64_t k0 = 0; k0 < d.S; k0 += kKeyBlock) {
      const int64_t cols = std::min(kKeyBlock, d.S - k0);
      const void* src = element_ptr(k, bf16, d.k_row(b, kv, k0));
      ab::load_block(src, bf16, cols, D, cols, w.a.data());
      ab::load_block(element_ptr(v, bf16, d.k_row(b, kv, k0)), bf16, cols, D, cols, w.b.data());
      ab::load_block_t(src, bf16, cols, D, kKeyBlock, w.kt.data());
      const KeyBlock kb{pk.pack_a(cols, D, w.a.data(), D, w.pa.data()),
                        pk.pack_a(cols, D, w.b.data(), D, w.pb.data()),
                        pk.pack_a(D, cols, w.kt.data(), kKeyBlock, w.pc.data())};
      std::fill(dk_acc.begin(), dk_acc.end(), 0.0f);
      std::fill(dv_acc.begin(), dv_acc.end(), 0.0f);
      const int64_t q_first = std::max<int64_t>(0, k0 - d.off()) / kQueryBlock * kQueryBlock;
      for (int64_t g = 0; g < G; ++g)
        for (int64_t q0 = q_first; q0 < d.T; q0 += kQueryBlock)
          pair(b, kv, g, q0, k0, cols, kb, delta.data(), dk_acc.data(), dv_acc.data(), w);
      ab::store_block(dk_acc.data(), cols, D, scale, element_ptr(dk, bf16, d.k_row(b, kv, k0)), bf16);
      ab::store_block(dv_acc.data(), cols, D, 1.0f, element_ptr(dv, bf16, d.k_row(b, kv, k0)), bf16);
    }
    w.rows.resize(static_cast<size_t>(Tp * D));
    for (int64_t g = 0; g < G; ++g) {  // dQ^T [D, Tp] -> rows [T, D]
      ab::load_block_t(w.dqt.data() + g * D * Tp, false, D, Tp, D, w.rows.data());
      ab::store_block(w.rows.data(), d.T, D, scale, element_ptr(dq, bf16, d.q_row(b, kv * G + g, 0)), bf16);
    }
  }
};

// Forward: in = {q, k, v[, bias]}, out = {o, lse}. Backward: in = {q, k, v, o, lse, dO[, bias]},
// out = {dq, dk, dv}. q, k, v, o, dO contiguous in one dtype (float32 or bfloat16); lse, bias float32.
class CausalAttentionPrimitive : public mx::Primitive {
 public:
  CausalAttentionPrimitive(mx::Stream s, float scale, bool has_bias, bool backward, bool bf16_products)
      : mx::Primitive(s), scale_(scale), has_bias_(has_bias), backward_(backward), bf16_products_(bf16_products) {}

  void eval_cpu(const std::vector<mx::array>& in, std::vector<mx::array>& out) override {
    auto& encoder = prepare_cpu_eval(stream(), in, out);
    encoder.dispatch([scale = scale_, bias = has_bias_, bwd = backward_, in, out,
                      products = bf16_products_]() mutable {
      const Dims d = dims_of(in[0], in[1]);
      const bool bf16 = in[0].dtype() == mx::bfloat16;
      const ab::Packing pk(bf16 || products);
      const float* key_bias = bias ? in.back().data<float>() : nullptr;
      const auto run = [&](const auto& job, int64_t tasks) {
        parallel_for(tasks, [&](int64_t lo, int64_t hi) {
          Scratch w(d.D);
          for (int64_t i = lo; i < hi; ++i) job.task(i, w);
        });
      };
      if (bwd) {
        const Backward job{d,
                           scale,
                           bf16,
                           pk,
                           in[0].data<void>(),
                           in[1].data<void>(),
                           in[2].data<void>(),
                           in[3].data<void>(),
                           in[5].data<void>(),
                           in[4].data<float>(),
                           key_bias,
                           out[0].data<void>(),
                           out[1].data<void>(),
                           out[2].data<void>()};
        run(job, d.B * d.K);
      } else {
        // K^T and V of every KV head packed once, before the query blocks that share them.
        const int64_t Sp = padded(d.S), kt_panel = pk.words(d.D) * Sp, v_panel = pk.words(Sp) * d.D;
        std::vector<uint32_t> kt(static_cast<size_t>(d.B * d.K * kt_panel)),
            vp(static_cast<size_t>(d.B * d.K * v_panel));
        parallel_for(d.B * d.K, [&](int64_t lo, int64_t hi) {
          Scratch w(d.D);
          for (int64_t i = lo; i < hi; ++i) {
            const int64_t row = d.k_row(i / d.K, i % d.K, 0);
            pack_head(pk, element_ptr(in[1].data<void>(), bf16, row), bf16, d.S, d.D, w, nullptr,
                      kt.data() + i * kt_panel);
            pack_head(pk, element_ptr(in[2].data<void>(), bf16, row), bf16, d.S, d.D, w,
                      vp.data() + i * v_panel, nullptr);
          }
        });
        const Forward job{d,
                          scale,
                          bf16,
                          pk,
                          in[0].data<void>(),
                          vp.data(),
                          kt.data(),
                          key_bias,
                          out[0].data<void>(),
                          out[1].data<float>()};
        run(job, d.B * d.H * ((d.T + kQueryBlock - 1) / kQueryBlock));
      }
    });
  }
  void eval_gpu(const std::vector<mx::array>&, std::vector<mx::array>&) override {
    throw std::runtime_error("CausalAttention has no GPU kernel: causal_attention() uses MLX ops there");
  }

  std::vector<mx::array> vjp(const std::vector<mx::array>& primals, const std::vector<mx::array>& cotangents,
                             const std::vector<int>& argnums, const std::vector<mx::array>& outputs) override {
    if (backward_) throw std::runtime_error("CausalAttentionBackward: no second derivative");
    const mx::Dtype dtype = primals[0].dtype();
    const mx::array dout = mx::contiguous(mx::astype(cotangents[0], dtype, stream()), false, stream());
    std::vector<mx::array> in{primals[0], primals[1], primals[2], outputs[0], outputs[1], dout};
    if (has_bias_) in.push_back(primals[3]);
    auto prim = std::make_shared<CausalAttentionPrimitive>(stream(), scale_, has_bias_, true, bf16_products_);
    const auto grads = mx::array::make_arrays({primals[0].shape(), primals[1].shape(), primals[2].shape()},
                                              {dtype, dtype, dtype}, prim, in);
    std::vector<mx::array> result;
    for (int i : argnums) result.push_back(i < 3 ? grads[static_cast<size_t>(i)] : mx::zeros_like(primals[3]));
    return result;
  }

  const char* name() const override {
    return backward_ ? "CausalAttentionBackward" : "CausalAttention";
  }
  bool is_equivalent(const mx::Primitive& other) const override {
    const auto* o = dynamic_cast<const CausalAttentionPrimitive*>(&other);
    return o && o->scale_ == scale_ && o->has_bias_ == has_bias_ && o->backward_ == backward_ &&
           o->bf16_products_ == bf16_products_;
  }

 private:
  float scale_;
  bool has_bias_;
  bool backward_;
  bool bf16_products_;
};

void check(const mx::array& q, const mx::array& k, const mx::array& v, float scale,
           const std::optional<mx::array>& key_bias) {
  const auto fail = [](const std::string& what) { throw Error(ErrorKind::Training, "causal_attention", what); };
  if (q.ndim() != 4 || k.ndim() != 4 || v.ndim() != 4) fail("q, k and v must be [B, heads, tokens, head_dim]");
  if (k.shape() != v.shape()) fail("k and v must have one shape [B, K, S, D]");
  if (k.shape(0) != q.shape(0) || k.shape(3) != q.shape(3)) fail("q and k must agree on batch and head_dim");
  if (k.shape(1) == 0 || q.shape(1) % k.shape(1) != 0) fail("query heads must be a multiple of KV heads");
  if (k.shape(2) < q.shape(2)) fail("need S >= T (keys cover every query)");
  if (!(scale > 0.0f)) fail("scale must be positive");
  if (q.dtype() != k.dtype() || q.dtype() != v.dtype() || !mx::issubdtype(q.dtype(), mx::floating))
    fail("q, k and v must share one float dtype");
  if (key_bias && static_cast<int64_t>(key_bias->size()) != static_cast<int64_t>(k.shape(0)) * k.shape(2))
    fail("key_bias must hold B * S values ([B, S] or [B, 1, 1, 1, S])");
}

}  // namespace

mx::array causal_attention_reference(const mx::array& q, const mx::array& k, const mx::array& v, float scale,
                                     const std::optional<mx::array>& key_bias, mx::StreamOrDevice s) {
  check(q, k, v, scale, key_bias);
  const int B = q.shape(0), H = q.shape(1), T = q.shape(2), D = q.shape(3);
  const int K = k.shape(1), S = k.shape(2), G = H / K;
  const mx::array qg = mx::reshape(mx::astype(q, mx::float32, s), {B, K, G * T, D}, s);
  const mx::array kt = mx::transpose(mx::astype(k, mx::float32, s), {0, 1, 3, 2}, s);
  mx::array z = mx::multiply(mx::reshape(mx::matmul(qg, kt, s), {B, K, G, T, S}, s), mx::array(scale), s);
  if (key_bias) z = mx::add(z, mx::reshape(mx::astype(*key_bias, mx::float32, s), {B, 1, 1, 1, S}, s), s);
  const mx::array rows = mx::reshape(mx::arange(T, s), {T, 1}, s);
  const mx::array cols = mx::reshape(mx::arange(S, s), {1, S}, s);
  const mx::array visible = mx::less_equal(cols, mx::add(rows, mx::array(S - T), s), s);
  z = mx::where(visible, z, mx::array(-std::numeric_limits<float>::infinity()), s);
  const mx::array p = mx::reshape(mx::softmax(z, -1, true, s), {B, K, G * T, S}, s);
  const mx::array o = mx::matmul(p, mx::astype(v, mx::float32, s), s);
  return mx::astype(mx::reshape(o, {B, H, T, D}, s), q.dtype(), s);
}

mx::array causal_attention(const mx::array& q, const mx::array& k, const mx::array& v, float scale,
                           const std::optional<mx::array>& key_bias, bool bf16_products, mx::StreamOrDevice s) {
  check(q, k, v, scale, key_bias);
  const mx::Stream stream = mx::to_stream(s);
  if (!cpu_kernels_run_on(stream)) return causal_attention_reference(q, k, v, scale, key_bias, s);
  const mx::Dtype dtype = q.dtype() == mx::bfloat16 ? mx::bfloat16 : mx::float32;  // float16 runs in float32
  auto prep = [&](const mx::array& a) { return mx::contiguous(mx::astype(a, dtype, stream), false, stream); };
  std::vector<mx::array> in{prep(q), prep(k), prep(v)};
  if (key_bias) {
    in.push_back(mx::contiguous(
        mx::reshape(mx::astype(*key_bias, mx::float32, stream), {k.shape(0), k.shape(2)}, stream), false, stream));
  }
  auto prim = std::make_shared<CausalAttentionPrimitive>(stream, scale, key_bias.has_value(), false, bf16_products);
  const auto outs = mx::array::make_arrays({q.shape(), {q.shape(0), q.shape(1), q.shape(2)}}, {dtype, mx::float32},
                                           prim, in);
  return mx::astype(outs[0], q.dtype(), stream);
}

}  // namespace mlxft::kernels
