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
// the classic rope_local_base_freq (10000 when absent). write_rope_and_dtype() writes the
// same keys back in config.form.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "mlxft/model/config.h"

namespace mlxft::detail {

void read_rope_and_dtype(const nlohmann::json& j, const std::string& source, ModelConfig& c,
                         bool local_rope = false);
void write_rope_and_dtype(const ModelConfig& c, nlohmann::json& j, bool local_rope = false);

}  // namespace mlxft::detail
