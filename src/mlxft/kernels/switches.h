// The switches between this project's CPU kernels and MLX's own ops: the one place that reads them.
//
// Contract: every op in kernels/ decides for itself, from the stream it runs on, whether to build its
// primitive (eval_cpu only: a primitive built on a GPU stream would throw) or MLX's own op:
//   cpu_kernels_run_on(s): s is a CPU stream, this build links oneDNN (util/cpu_features.h: without it
//     every op is MLX's, as the kernels were written and measured with it) and MLXFT_KERNELS is not "0".
//   fused_attention_runs_on(s): cpu_kernels_run_on(s) and MLXFT_ATTN_KERNEL is not "0".
//   low_rank_kernels_switched_on(s): cpu_kernels_run_on(s) and MLXFT_LORA_KERNEL is not "0".
// Each op adds its own conditions (dtypes, a prepared weight, what the CPU has) in its header.
// The environment switches, both "on" when unset:
//   MLXFT_KERNELS=0      every kernel op runs MLX's own op (fast::rms_norm, fast::rope,
//                        fast::scaled_dot_product_attention, matmul, quantized_matmul, the plain
//                        cross-entropy ...): the benchmarks' "before" and the tests' portable path.
//                        Read at each query, so a test may flip it within one process.
//   MLXFT_ATTN_KERNEL=0  attention() runs the older CPU path (two MLX matmuls around the
//                        causal_softmax kernel) instead of the fused causal_attention kernel: the
//                        benchmarks' before/after switch of that kernel. Read once.
//   MLXFT_LORA_KERNEL=0  LoRA's branch runs its products as MLX matmuls (OpenBLAS) instead of the
//                        kernels/low_rank kernels: their before/after switch. Read at each query.
#pragma once

#include <mlx/mlx.h>

namespace mlxft::kernels {

bool cpu_kernels_run_on(const mlx::core::Stream& s);
bool fused_attention_runs_on(const mlx::core::Stream& s);
bool low_rank_kernels_switched_on(const mlx::core::Stream& s);

// The stream of the default device, where a call without a stream runs.
inline mlx::core::Stream default_stream() {
  return mlx::core::default_stream(mlx::core::default_device());
}

}  // namespace mlxft::kernels
