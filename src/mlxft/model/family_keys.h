// Helpers the family files share to read their config.json keys (see family.h).
//
// Contract: error() is the Config error at "source: key"; present() is "key there and not null";
// is_true() is "key is the boolean true". require_activation() accepts `key` absent or equal to
// `expected` and is a Config error otherwise. read_layer_types() sets config.sliding_layers from
// "layer_types" (one "full_attention" / "sliding_attention" per layer; any other value, or a count
// other than num_hidden_layers, is an error naming the entry) and leaves it empty when absent.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "mlxft/util/error.h"

namespace mlxft {
struct ModelConfig;
}

namespace mlxft::family_keys {

Error error(const std::string& source, const std::string& key, const std::string& what,
            const std::string& hint = {});
bool present(const nlohmann::json& j, const std::string& key);
bool is_true(const nlohmann::json& j, const std::string& key);
void require_activation(const nlohmann::json& j, const std::string& source, const std::string& key,
                        const std::string& expected);
void read_layer_types(const nlohmann::json& j, const std::string& source, ModelConfig& c);
// A positive number at `key`, `fallback` when absent; a Config error otherwise.
double positive_number(const nlohmann::json& j, const std::string& source, const std::string& key,
                       double fallback);

// Qwen2 and Qwen3 share (family_qwen2.cpp): no sliding window (use_sliding_window true or a
// "sliding_attention" layer is refused), and the keys both write.
void read_qwen_common(const nlohmann::json& j, const std::string& source, ModelConfig& c);
void write_qwen_common(const ModelConfig& c, nlohmann::json& j);

}  // namespace mlxft::family_keys
