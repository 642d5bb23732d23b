// libFuzzer target: any bytes as a recipe YAML. parse_recipe must throw mlxft::Error or return a
// recipe whose YAML dump parses back; never a crash, a yaml-cpp exception or deep recursion.
#include <cstdint>
#include <string>

#include "mlxft/config/load.h"
#include "mlxft/util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const mlxft::Recipe r = mlxft::parse_recipe(text, "/nonexistent", "fuzz.yaml");
    (void)mlxft::parse_recipe(mlxft::recipe_to_yaml(r), "/nonexistent", "fuzz-dump.yaml");
  } catch (const mlxft::Error&) {
  }
  return 0;
}
