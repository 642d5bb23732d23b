// New model weights: the preset shapes and random weights in the Hugging Face names.
//
// Contract: preset_config() gives the shapes of the named presets (tiny, small, mistral-7b-shape) with
// Mistral v0.3's rope_theta/eps and the given vocab. random_weights() draws every tensor of
// expected_weights() from N(0, initializer_range^2) (0.02 unless the config says; norm weights are
// ones), deterministically from the seed. Writing such a model as a directory is
// export/random_model.h.
#pragma once

#include <mlx/mlx.h>

#include <cstdint>
#include <string>
#include <unordered_map>

#include "mlxft/model/config.h"

namespace mlxft {

// Throws a Usage error for an unknown preset name.
ModelConfig preset_config(const std::string& preset, int vocab_size);

std::unordered_map<std::string, mlx::core::array> random_weights(const ModelConfig& config, uint64_t seed,
                                                                 mlx::core::Dtype dtype);

}  // namespace mlxft
