#include "mlxft/util/cpu_features.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#define MLXFT_X86 1
#endif

namespace mlxft {
namespace {

#ifdef MLXFT_X86
unsigned long long xgetbv0() {
  unsigned eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<unsigned long long>(edx) << 32) | eax;
}

// Linux hands out AMX tile data only to processes that ask (arch_prctl ARCH_REQ_XCOMP_PERM).
bool request_amx_permission() {
#if defined(__linux__)
  constexpr long kArchReqXcompPerm = 0x1023;
  constexpr long kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = (c >> 27) & 1;
  if (!osxsave) return f;
  const unsigned long long xcr0 = xgetbv0();
  const bool avx_state = (xcr0 & 0x6) == 0x6;
  const bool avx512_state = avx_state && (xcr0 & 0xe0) == 0xe0;
  const bool amx_state = (xcr0 & 0x60000) == 0x60000;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return f;
  const unsigned ebx7 = b, edx7 = d;
  f.avx2 = avx_state && ((ebx7 >> 5) & 1);
  const bool bw = (ebx7 >> 30) & 1, vl = (ebx7 >> 31) & 1, dq = (ebx7 >> 17) & 1;
  f.avx512f = avx512_state && ((ebx7 >> 16) & 1) && bw && vl && dq;
  __get_cpuid_count(7, 1, &a, &b, &c, &d);
  f.avx512_bf16 = f.avx512f && ((a >> 5) & 1);
  const bool amx = ((edx7 >> 22) & 1) && ((edx7 >> 24) & 1);
  f.amx_bf16 = f.avx512f && amx && amx_state && request_amx_permission();
  return f;
}
#else
CpuFeatures detect() {
  return {};
}
#endif

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

CpuIsa best_cpu_isa() {
  const CpuFeatures& f = cpu_features();
  if (f.amx_bf16) return CpuIsa::Amx;
  if (f.avx512_bf16) return CpuIsa::Avx512Bf16;
  if (f.avx512f) return CpuIsa::Avx512;
  return CpuIsa::Portable;
}

const char* to_string(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::Amx: return "amx-bf16";
    case CpuIsa::Avx512Bf16: return "avx512-bf16";
    case CpuIsa::Avx512: return "avx512";
    case CpuIsa::Portable: return "portable";
  }
  return "portable";
}

bool bf16_matmul_is_fast() {
  return have_onednn() && (cpu_features().amx_bf16 || cpu_features().avx512_bf16);
}

bool have_onednn() {
#ifdef MLXFT_HAVE_DNNL
  return true;
#else
  return false;
#endif
}

}  // namespace mlxft
