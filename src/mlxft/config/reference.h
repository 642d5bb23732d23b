// The markdown reference of every recipe setting, generated from the schema table.
//
// Contract: config_reference_markdown() is deterministic; docs/config-reference.md is exactly its
// output (a test keeps them equal), and `mlxft config reference` prints it.
#pragma once

#include <string>

namespace mlxft {

std::string config_reference_markdown();

}  // namespace mlxft
