// The CPU BLAS behind MLX's float32 matmul.
//
// Contract: on Linux the build links Debian's OpenBLAS into every mlxft
// program, so its sgemm interposes on the reference BLAS bundled with the
// mlx-cpu wheel. set_blas_threads() sets how many threads that BLAS uses;
// blas_description() says which BLAS is active and, for OpenBLAS, which core
// kernels it picked (for logs and benchmarks).
// OpenBLAS core type: a DYNAMIC_ARCH OpenBLAS picks its kernels once, when it is
// loaded, from cpuid or from OPENBLAS_CORETYPE. Debian's 0.3.21 does not know
// newer Xeons (Sapphire Rapids, family 6 model 207) and falls back to its
// slowest kernels ("Prescott", 3-7x slower sgemm). choose_openblas_coretype() is
// the pure decision: given whether OPENBLAS_CORETYPE is set, the core OpenBLAS
// reports and the CPU's AVX-512 flags, the core type to force ("Cooperlake" with
// AVX512-BF16, else "SkylakeX": the newest AVX-512 cores 0.3.21 accepts), or
// nothing.
// OpenMP wait policy: oneDNN (the CPU kernels' matmuls) runs on libgomp, whose idle threads
// spin for a while after each parallel region; OpenBLAS's threads and mlxft's own
// parallel_for need those cores meanwhile. choose_omp_wait_policy() is the decision:
// "PASSIVE" (idle OpenMP threads sleep) unless OMP_WAIT_POLICY is set or oneDNN is absent.
// OpenBLAS thread timeout: after each call OpenBLAS's idle threads poll (sched_yield) for 2^28
// cycles by default before they sleep. With the CPU kernels, OpenBLAS runs only LoRA's small
// matmuls, a few hundred a step, so its threads would poll through the whole step.
// choose_openblas_thread_timeout() says "4" (the smallest: they sleep at once; a big sgemm still
// uses every thread). What both switches were measured to be worth: docs/performance.md.
// OpenBLAS under an address-space limit (`ulimit -v`): OpenBLAS (Debian's 0.3.21, x86_64) maps a
// 128 MiB buffer per thread (openblas_buffer_bytes()): each worker thread when it starts (the
// pool starts when the library loads), the calling thread at its first large call, one slot per
// concurrent caller, kept for the life of the process. Where mmap and malloc both fail,
// blas_memory_alloc() retries forever: the thread spins at full CPU and the process never ends
// (its exit waits for the workers). So, with a finite limit: choose_openblas_threads() caps the
// threads so that their buffers take at most a quarter of the limit (at least 1 thread);
// set_blas_threads() applies the same cap (a larger --threads or system.threads is lowered, with a
// warning); reserve_blas_buffers() maps the calling thread's buffer once, at start, with one small
// sgemm, after checking that the room left under the limit holds it, and otherwise throws a Memory
// error that names the limit. Once mapped, buffers are reused, so no later BLAS call maps again.
// fix_cpu_runtime_env(argv) applies all four: libgomp and OpenBLAS read their variables once, when
// loaded, so it sets them and re-executes the program once (/proc/self/exe, same argv and
// environment); it returns only when nothing needs fixing or the exec failed. Call it first in
// main(). On other platforms (Accelerate on macOS, CUDA) all of this is a no-op.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace mlxft {

void set_blas_threads(int threads);
std::string blas_description();

// The core type OpenBLAS runs ("Prescott", "SkylakeX", ...); empty without OpenBLAS.
std::string openblas_core();

struct BlasCpu {
  bool coretype_env_set = false;  // OPENBLAS_CORETYPE is in the environment
  std::string core;               // openblas_get_corename(), e.g. "Prescott"; empty: no OpenBLAS
  bool avx512f = false;
  bool avx512_bf16 = false;
};

// The OPENBLAS_CORETYPE to force, or nothing (set by the user, no OpenBLAS, no AVX-512, or the
// core OpenBLAS chose already uses AVX-512).
std::optional<std::string> choose_openblas_coretype(const BlasCpu& cpu);

// The OMP_WAIT_POLICY to set, or nothing (set by the user, or no oneDNN in this build).
std::optional<std::string> choose_omp_wait_policy(bool env_set, bool have_onednn);

// The OPENBLAS_THREAD_TIMEOUT to set, or nothing (set by the user, or no OpenBLAS).
std::optional<std::string> choose_openblas_thread_timeout(bool env_set, bool have_openblas);

// Address space OpenBLAS maps per thread (its BUFFER_SIZE, 32 << 22 on x86_64).
uint64_t openblas_buffer_bytes();

// The most OpenBLAS threads whose buffers fit a quarter of `limit_bytes` (at least 1); 0 for no limit.
int blas_thread_cap(uint64_t limit_bytes);

// The OPENBLAS_NUM_THREADS to set under an address-space limit, or nothing: no limit, no OpenBLAS, or
// the threads OpenBLAS runs (from the cores or OPENBLAS_NUM_THREADS) fit the cap. A user's larger
// OPENBLAS_NUM_THREADS is replaced: under the limit its buffers would hang the program.
std::optional<int> choose_openblas_threads(uint64_t limit_bytes, int running_threads, bool have_openblas);

// Under an address-space limit, maps OpenBLAS's buffer for the calling threads now (once), or throws a
// Memory error when the room left under the limit cannot hold it. Without a limit or OpenBLAS: nothing.
void reserve_blas_buffers();

// Re-executes the program once with OPENBLAS_CORETYPE, OMP_WAIT_POLICY, OPENBLAS_THREAD_TIMEOUT and
// OPENBLAS_NUM_THREADS set where the choose_* functions above say so.
void fix_cpu_runtime_env(char** argv);

}  // namespace mlxft
