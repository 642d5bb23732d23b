#include "mlxft/kernels/onednn.h"

#ifdef MLXFT_HAVE_DNNL
#include <map>
#include <memory>
#include <mutex>

#include "mlxft/util/address_space.h"

namespace mlxft::kernels::onednn {
namespace {

using tag = dnnl::memory::format_tag;

// oneDNN crashes (SIGSEGV in its JIT code generation) rather than failing where a new primitive finds
// no memory, so under an address-space limit a primitive is created only with this much room left
// (its JIT code and scratchpad are a few MiB; the margin covers OpenMP's threads starting too).
constexpr size_t kPrimitiveRoom = size_t{64} << 20;

// oneDNN's own out-of-memory (a scratchpad it could not allocate) as the allocation failure it is.
template <class F>
void run_primitive(F&& f, const char* what) {
  try {
    f();
  } catch (const dnnl::error& e) {
    if (e.status == dnnl_out_of_memory) throw AllocationFailed(0, what);
    throw;
  }
}

struct Cached {
  dnnl::matmul::primitive_desc pd;
  dnnl::matmul prim;
};

// Key: M, the dtypes and the bytes of the weights' memory descriptor (a POD in the v2 API).
std::string key_of(int64_t M, dt s, const dnnl::memory::desc& w, dt d) {
  std::string k(reinterpret_cast<const char*>(&M), sizeof M);
  k.push_back(static_cast<char>(s));
  k.push_back(static_cast<char>(d));
  k.append(reinterpret_cast<const char*>(&w.data), sizeof w.data);
  return k;
}

const Cached& cached(int64_t M, dt src_type, const dnnl::memory::desc& weights, dt dst_type) {
  static std::mutex mutex;
  static std::map<std::string, std::unique_ptr<Cached>> cache;
  const std::string key = key_of(M, src_type, weights, dst_type);
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(key);
  if (it != cache.end()) return *it->second;
  require_address_space(kPrimitiveRoom, "a oneDNN matmul primitive");
  const auto dims = weights.dims();
  const dnnl::memory::desc src({M, dims[0]}, src_type, tag::ab);
  const dnnl::memory::desc dst({M, dims[1]}, dst_type, tag::ab);
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, weights, dst), engine());
  auto c = std::make_unique<Cached>(Cached{pd, dnnl::matmul(pd)});
  return *cache.emplace(key, std::move(c)).first->second;
}

}  // namespace

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

dnnl::memory::desc plain_ab(int64_t rows, int64_t cols, dt type) {
  return dnnl::memory::desc({rows, cols}, type, tag::ab);
}

dnnl::memory::desc plain_ba(int64_t rows, int64_t cols, dt type) {
  return dnnl::memory::desc({rows, cols}, type, tag::ba);
}

dnnl::memory::desc preferred_weights(int64_t K, int64_t N, dt type) {
  constexpr int64_t kM = 256;
  const dnnl::memory::desc src({kM, K}, type, tag::ab);
  const dnnl::memory::desc wei({K, N}, type, tag::any);
  const dnnl::memory::desc dst({kM, N}, dt::f32, tag::ab);
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, wei, dst), engine());
  return pd.weights_desc();
}

void matmul(int64_t M, const void* src, dt src_type, const dnnl::memory::desc& weights, const void* b,
            void* dst, dt dst_type) {
  const Cached& c = cached(M, src_type, weights, dst_type);
  dnnl::stream s(engine());
  dnnl::memory ms(c.pd.src_desc(), engine(), const_cast<void*>(src));
  dnnl::memory mw(weights, engine(), const_cast<void*>(b));
  dnnl::memory md(c.pd.dst_desc(), engine(), dst);
  run_primitive(
      [&] {
        c.prim.execute(s, {{DNNL_ARG_SRC, ms}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_DST, md}});
        s.wait();
      },
      "a oneDNN matmul's scratchpad");
}

std::string matmul_impl(int64_t M, dt src_type, const dnnl::memory::desc& weights, dt dst_type) {
  return cached(M, src_type, weights, dst_type).pd.impl_info_str();
}

void reorder(const dnnl::memory::desc& from, const void* src, const dnnl::memory::desc& to, void* dst) {
  require_address_space(kPrimitiveRoom, "a oneDNN reorder primitive");
  dnnl::stream s(engine());
  dnnl::memory a(from, engine(), const_cast<void*>(src));
  dnnl::memory b(to, engine(), dst);
  run_primitive(
      [&] {
        dnnl::reorder(a, b).execute(s, a, b);
        s.wait();
      },
      "a oneDNN reorder");
}

}  // namespace mlxft::kernels::onednn
#endif
