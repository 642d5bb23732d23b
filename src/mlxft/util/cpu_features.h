// What the CPU can do, detected once at run time (cpuid + the OS's saved-state mask), and whether this
// build links oneDNN.
//
// Contract: cpu_features() reports the x86 extensions the kernels dispatch on; every flag is false
// on other architectures. best_cpu_isa() orders them: AMX (bf16 tiles) > AVX512-BF16 > AVX-512 >
// portable. have_onednn() is a build-time fact (MLXFT_HAVE_DNNL, set by cmake/Dependencies.cmake for
// the kernels and this file): without oneDNN the kernels run MLX's own ops. bf16_matmul_is_fast() is
// true where a bf16 matmul beats float32 (oneDNN with AMX or AVX512-BF16): what
// `model.compute_dtype: auto` should pick on a CPU.
#pragma once

namespace mlxft {

struct CpuFeatures {
  bool avx2 = false;
  bool avx512f = false;      // with AVX512BW/VL/DQ, as every AVX-512 server core since Skylake-SP
  bool avx512_bf16 = false;  // vdpbf16ps, vcvtneps2bf16
  bool amx_bf16 = false;     // tdpbf16ps, with the OS's permission for tile data
};

enum class CpuIsa { Portable, Avx512, Avx512Bf16, Amx };

const CpuFeatures& cpu_features();
CpuIsa best_cpu_isa();
const char* to_string(CpuIsa isa);
bool have_onednn();
bool bf16_matmul_is_fast();

}  // namespace mlxft
