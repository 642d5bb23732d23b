// Shared by the SFT kernel tests: a tiny float32 model with rank-4 adapters and one micro-batch whose
// vocab (300) and length (2 x 11 tokens) are multiples of no block size, the second row partly masked;
// and a scope that sets MLXFT_KERNELS (kernels/switches.h).
#pragma once

#include <mlx/mlx.h>

#include <cstdlib>
#include <vector>

#include "mlxft/data/example.h"
#include "mlxft/model/init.h"
#include "mlxft/model/llama.h"
#include "mlxft/model/lora.h"

namespace mlxft::test {

namespace mx = mlx::core;

// Sets MLXFT_KERNELS for one scope ("0": MLX's own ops).
class KernelsSwitch {
 public:
  explicit KernelsSwitch(bool on) { setenv("MLXFT_KERNELS", on ? "1" : "0", 1); }
  ~KernelsSwitch() { unsetenv("MLXFT_KERNELS"); }
};

struct TinySftRun {
  Model model;
  LoraAdapters adapters;
  std::vector<mx::array> params;
  Batch batch;
};

// nonzero_b: every adapter's parameters perturbed (B = 0 at init), so every adapter has a gradient path.
inline TinySftRun make_tiny_sft_run(bool nonzero_b) {
  TinySftRun s;
  s.model.config = preset_config("tiny", 300);
  s.model.weights = random_weights(s.model.config, 5, mx::float32);
  LoraConfig lc;
  lc.rank = 4;
  lc.alpha = 8.0f;
  s.adapters = init_lora(s.model.config, lc, 1);
  s.params = s.adapters.flatten();
  for (size_t i = 0; nonzero_b && i < s.params.size(); ++i) {
    s.params[i] = mx::add(
        s.params[i],
        mx::multiply(mx::array(0.05f), mx::random::normal(s.params[i].shape(), mx::random::key(10 + i))));
  }
  if (nonzero_b) mx::eval(s.params);
  const mx::array ids = mx::random::randint(0, 300, {2, 12}, mx::int32, mx::random::key(2));
  s.batch.inputs = mx::slice(ids, {0, 0}, {2, 11});
  s.batch.targets = mx::slice(ids, {0, 1}, {2, 12});
  s.batch.mask =
      mx::concatenate({mx::ones({1, 11}), mx::concatenate({mx::zeros({1, 4}), mx::ones({1, 7})}, 1)}, 0);
  return s;
}

}  // namespace mlxft::test
