// The --model flags' check (see model_path_check.h).
#include "cli/model_path_check.h"

#include <string>

#include "mlxft/model/shipped.h"

namespace mlxft::cli {

CLI::Validator existing_model_path() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        if (is_shipped_model_name(value)) return {};
        return CLI::ExistingPath(value);
      },
      "PATH or shipped:NAME", "EXISTING_MODEL");
}

}  // namespace mlxft::cli
