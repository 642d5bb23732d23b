#include "mlxft/util/blas.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <vector>

#include "mlxft/util/address_space.h"
#include "mlxft/util/cpu_features.h"
#include "mlxft/util/error.h"

#if defined(MLXFT_HAVE_OPENBLAS) && defined(__linux__)
#include <unistd.h>
#endif

#ifdef MLXFT_HAVE_OPENBLAS
extern "C" {
void openblas_set_num_threads(int num_threads);
char* openblas_get_config(void);
char* openblas_get_corename(void);
int openblas_get_num_threads(void);
void cblas_sgemm(int order, int trans_a, int trans_b, int m, int n, int k, float alpha, const float* a, int lda,
                 const float* b, int ldb, float beta, float* c, int ldc);
}
#endif

namespace mlxft {

uint64_t openblas_buffer_bytes() { return uint64_t{32} << 22; }

int blas_thread_cap(uint64_t limit_bytes) {
  if (limit_bytes == 0) return 0;
  return static_cast<int>(std::max<uint64_t>(1, limit_bytes / 4 / openblas_buffer_bytes()));
}

std::optional<int> choose_openblas_threads(uint64_t limit_bytes, int running_threads, bool have_openblas) {
  if (limit_bytes == 0 || !have_openblas) return std::nullopt;
  const int cap = blas_thread_cap(limit_bytes);
  if (running_threads <= cap) return std::nullopt;
  return cap;
}

void set_blas_threads(int threads) {
#ifdef MLXFT_HAVE_OPENBLAS
  if (threads <= 0) return;
  const uint64_t limit = address_space_limit();
  const int cap = blas_thread_cap(limit);
  if (cap > 0 && threads > cap) {
    spdlog::warn("{} BLAS threads lowered to {}: OpenBLAS maps {} per thread, and their buffers may take a quarter "
                 "of the address-space limit (ulimit -v) of {}",
                 threads, cap, format_mib(static_cast<double>(openblas_buffer_bytes())),
                 format_mib(static_cast<double>(limit)));
    threads = cap;
  }
  openblas_set_num_threads(threads);
#else
  (void)threads;
#endif
}

std::string openblas_core() {
#ifdef MLXFT_HAVE_OPENBLAS
  const char* name = openblas_get_corename();
  return name ? name : "";
#else
  return "";
#endif
}

std::string blas_description() {
#ifdef MLXFT_HAVE_OPENBLAS
  return std::string("OpenBLAS ") + openblas_get_config() + ", core " + openblas_core();
#else
  return "the BLAS bundled with MLX";
#endif
}

std::optional<std::string> choose_openblas_coretype(const BlasCpu& cpu) {
  if (cpu.coretype_env_set || cpu.core.empty() || !cpu.avx512f) return std::nullopt;
  std::string core = cpu.core;
  std::transform(core.begin(), core.end(), core.begin(), [](unsigned char c) { return std::tolower(c); });
  // Cores whose kernels already use AVX-512 (OpenBLAS's names, any case).
  for (const char* good : {"skylakex", "cooperlake", "sapphirerapids"}) {
    if (core == good) return std::nullopt;
  }
  return std::string(cpu.avx512_bf16 ? "Cooperlake" : "SkylakeX");
}

void reserve_blas_buffers() {
#ifdef MLXFT_HAVE_OPENBLAS
  static bool reserved = false;
  const uint64_t limit = address_space_limit();
  if (reserved || limit == 0 || openblas_core().empty()) return;
  const uint64_t used = address_space_used();
  const uint64_t need = openblas_buffer_bytes() + (uint64_t{16} << 20);  // its buffer, the sgemm's matrices
  if (used > 0 && (used >= limit || limit - used < need)) {
    throw Error(ErrorKind::Memory, "OpenBLAS",
                fmt::format("{} leaves {} free, and OpenBLAS needs {} for the buffer of its calling thread "
                            "(it would otherwise retry that allocation forever)",
                            describe_address_space(), format_mib(static_cast<double>(used < limit ? limit - used : 0)),
                            format_mib(static_cast<double>(openblas_buffer_bytes()))),
                fmt::format("raise the limit (ulimit -v): mlxft and OpenBLAS alone need about {} KiB, the model "
                            "and the run more",
                            (used + need) / 1024));
  }
  // Large enough for OpenBLAS's blocked sgemm (which takes its buffer), small enough to take no time.
  constexpr int n = 256;
  std::vector<float> a(static_cast<size_t>(n) * n, 1.0f), c(static_cast<size_t>(n) * n, 0.0f);
  cblas_sgemm(101 /* row major */, 111 /* no trans */, 111, n, n, n, 1.0f, a.data(), n, a.data(), n, 0.0f, c.data(), n);
  reserved = true;
#endif
}

std::optional<std::string> choose_omp_wait_policy(bool env_set, bool have_onednn) {
  if (env_set || !have_onednn) return std::nullopt;
  return std::string("PASSIVE");
}

std::optional<std::string> choose_openblas_thread_timeout(bool env_set, bool have_openblas) {
  if (env_set || !have_openblas) return std::nullopt;
  return std::string("4");  // OpenBLAS's smallest: 2^4 cycles of polling, then the thread sleeps
}

void fix_cpu_runtime_env(char** argv) {
#if defined(MLXFT_HAVE_OPENBLAS) && defined(__linux__)
  const CpuFeatures& f = cpu_features();
  const BlasCpu cpu{std::getenv("OPENBLAS_CORETYPE") != nullptr, openblas_core(), f.avx512f, f.avx512_bf16};
  const bool have_openblas = !cpu.core.empty();
  const std::optional<int> threads =
      choose_openblas_threads(address_space_limit(), have_openblas ? openblas_get_num_threads() : 0, have_openblas);
  const std::pair<const char*, std::optional<std::string>> wanted[] = {
      {"OPENBLAS_NUM_THREADS", threads ? std::optional<std::string>(std::to_string(*threads)) : std::nullopt},
      {"OPENBLAS_CORETYPE", choose_openblas_coretype(cpu)},
      {"OMP_WAIT_POLICY", choose_omp_wait_policy(std::getenv("OMP_WAIT_POLICY") != nullptr, have_onednn())},
      {"OPENBLAS_THREAD_TIMEOUT",
       choose_openblas_thread_timeout(std::getenv("OPENBLAS_THREAD_TIMEOUT") != nullptr, have_openblas)},
  };
  bool any = false;
  for (const auto& [name, value] : wanted) any = any || value.has_value();
  if (!any || argv == nullptr) return;
  // Once set, the variables stop a second re-exec whatever the libraries then pick.
  for (const auto& [name, value] : wanted) {
    if (value && setenv(name, value->c_str(), 1) != 0) return;
  }
  execv("/proc/self/exe", argv);  // returns only on failure: run on as loaded
  for (const auto& [name, value] : wanted) {
    if (value) unsetenv(name);
  }
#else
  (void)argv;
#endif
}

}  // namespace mlxft
