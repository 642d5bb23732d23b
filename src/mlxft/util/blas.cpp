#include "mlxft/util/blas.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "mlxft/util/cpu_features.h"

#if defined(MLXFT_HAVE_OPENBLAS) && defined(__linux__)
#include <unistd.h>
#endif

#ifdef MLXFT_HAVE_OPENBLAS
extern "C" {
void openblas_set_num_threads(int num_threads);
char* openblas_get_config(void);
char* openblas_get_corename(void);
}
#endif

namespace mlxft {

void set_blas_threads(int threads) {
#ifdef MLXFT_HAVE_OPENBLAS
  if (threads > 0) openblas_set_num_threads(threads);
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
  const std::pair<const char*, std::optional<std::string>> wanted[] = {
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
