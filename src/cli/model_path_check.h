// The check on every --model flag: an existing path, or a shipped model's name
// (`shipped:NAME`, mlxft/model/shipped.h), which resolve_model_source() looks up when the model is
// opened (a missing shipped model is then a Model error saying what to run).
#pragma once

#include <CLI/CLI.hpp>

namespace mlxft::cli {

// CLI::ExistingPath, except that a shipped model's name passes.
CLI::Validator existing_model_path();

}  // namespace mlxft::cli
