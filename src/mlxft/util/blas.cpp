#include "mlxft/util/blas.h"

#ifdef MLXFT_HAVE_OPENBLAS
extern "C" {
void openblas_set_num_threads(int num_threads);
char* openblas_get_config(void);
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

std::string blas_description() {
#ifdef MLXFT_HAVE_OPENBLAS
  return std::string("OpenBLAS ") + openblas_get_config();
#else
  return "the BLAS bundled with MLX";
#endif
}

}  // namespace mlxft
