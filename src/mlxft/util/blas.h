// The CPU BLAS behind MLX's float32 matmul.
//
// Contract: on Linux the build links Debian's OpenBLAS into every mlxft
// program, so its sgemm interposes on the reference BLAS bundled with the
// mlx-cpu wheel. set_blas_threads() sets how many threads that BLAS uses;
// blas_description() says which BLAS is active (for logs and benchmarks).
// On other platforms (Accelerate on macOS, CUDA) both are harmless no-ops.
#pragma once

#include <string>

namespace mlxft {

void set_blas_threads(int threads);
std::string blas_description();

}  // namespace mlxft
