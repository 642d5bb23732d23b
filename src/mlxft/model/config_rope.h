// The RoPE and dtype keys of config.json, in both forms (see config.h).
//
// Contract: read_rope_and_dtype() sets rope_theta, rope_scaling, torch_dtype and
// form from `j`: transformers 5's "rope_parameters" object when present, else the
// classic top-level rope_theta / rope_scaling; "dtype" or "torch_dtype". A rope
// type mlxft does not implement, a missing or non-positive scaling parameter, or
// two forms that disagree is a Config error naming the key (e.g.
// "rope_parameters.rope_type") and `source`. With `local_rope` (Gemma 3: the sliding layers have
// their own base) it also sets rope_local_theta: transformers 5's rope_parameters per layer type
// {"full_attention": {...}, "sliding_attention": {"rope_type": "default", "rope_theta": ...}}, or
// the classic rope_local_base_freq (10000 when absent). With `phi3` (Family::partial_longrope) it
// also reads partial_rotary_factor (rope_parameters', else the top level) and the rope type
// "longrope" (or its early name "su"): short_factor, long_factor, the top-level
// original_max_position_embeddings and the attention factor (config.h RopeScaling); any other type
// is a Config error. write_rope_and_dtype() writes the same keys back in config.form.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "mlxft/model/config.h"

namespace mlxft::detail {

void read_rope_and_dtype(const nlohmann::json& j, const std::string& source, ModelConfig& c,
                         bool local_rope = false, bool phi3 = false);
void write_rope_and_dtype(const ModelConfig& c, nlohmann::json& j, bool local_rope = false, bool phi3 = false);

}  // namespace mlxft::detail
