// The kernel-or-MLX switches (see switches.h).
#include "mlxft/kernels/switches.h"

#include <cstdlib>
#include <cstring>

#include "mlxft/util/cpu_features.h"

namespace mx = mlx::core;

namespace mlxft::kernels {
namespace {

bool switched_on(const char* name) {
  const char* env = std::getenv(name);
  return env == nullptr || std::strcmp(env, "0") != 0;
}

}  // namespace

bool cpu_kernels_run_on(const mx::Stream& s) {
  return s.device.type == mx::Device::DeviceType::cpu && have_onednn() && switched_on("MLXFT_KERNELS");
}

bool fused_attention_runs_on(const mx::Stream& s) {
  static const bool on = switched_on("MLXFT_ATTN_KERNEL");
  return on && cpu_kernels_run_on(s);
}

bool low_rank_kernels_switched_on(const mx::Stream& s) {
  return switched_on("MLXFT_LORA_KERNEL") && cpu_kernels_run_on(s);
}

}  // namespace mlxft::kernels
