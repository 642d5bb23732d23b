// Thin layer over oneDNN 2.6 (v2 API) for the kernels: one CPU engine, cached matmul primitives,
// weight packing. Internal to src/mlxft/kernels; only compiled into builds with MLXFT_HAVE_DNNL.
//
// Contract: matmul() computes dst[M, N] = src[M, K] * B, src row-major (ld = K), dst row-major,
// B the logical [K, N] matrix described by `weights` (plain "ab" = B row-major, "ba" = W [N, K]
// row-major i.e. x W^T, or a packed layout from preferred_weights()). src and B share one dtype
// (f32 or bf16); dst is f32 or bf16. Primitives are created once per (M, dtypes, layout) and
// reused; calls are thread-safe. oneDNN runs on its own OpenMP threads. Under an address-space
// limit a primitive is created only with 64 MiB of room left (oneDNN crashes where its JIT code finds
// no memory), else AllocationFailed (util/address_space.h); oneDNN's out-of-memory status is one too.
#pragma once

#ifdef MLXFT_HAVE_DNNL
#include <cstdint>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>

namespace mlxft::kernels::onednn {

using dt = dnnl::memory::data_type;

dnnl::engine& engine();

dnnl::memory::desc plain_ab(int64_t rows, int64_t cols, dt type);  // [rows, cols] row-major
dnnl::memory::desc plain_ba(int64_t rows, int64_t cols, dt type);  // [rows, cols] column-major
// The layout oneDNN's matmul prefers for B [K, N] (it does not depend on M: checked for 1..1024).
dnnl::memory::desc preferred_weights(int64_t K, int64_t N, dt type);

void matmul(int64_t M, const void* src, dt src_type, const dnnl::memory::desc& weights, const void* b,
            void* dst, dt dst_type);
// The implementation oneDNN picks (e.g. "brg:avx512_core_amx_bf16"), for logs and benchmarks.
std::string matmul_impl(int64_t M, dt src_type, const dnnl::memory::desc& weights, dt dst_type);

void reorder(const dnnl::memory::desc& from, const void* src, const dnnl::memory::desc& to, void* dst);

}  // namespace mlxft::kernels::onednn
#endif
