// libFuzzer target: any bytes as a safetensors file, and (after a "\n--8<--\n" line) as the
// model.safetensors.index.json beside it. The header parser must throw mlxft::Error or return
// tensors that tile the data region exactly; the index must name only bare shard files in the
// directory (never "..", "/" or an absolute path).
#include <cstdint>
#include <cstdlib>

#include "fuzz_support.h"
#include "mlxft/formats/safetensors.h"
#include "mlxft/model/weights.h"
#include "mlxft/util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto [weights, index] = mlxft::fuzz::split_input(data, size);
  try {
    const auto h = mlxft::parse_safetensors_header(weights, weights.size(), "fuzz.safetensors");
    for (const auto& [name, e] : h.tensors) {
      if (e.begin > e.end || e.end > weights.size()) std::abort();
    }
  } catch (const mlxft::Error&) {
  }
  if (index.empty()) return 0;
  const auto dir = mlxft::fuzz::scratch_dir() / "model";
  std::filesystem::create_directories(dir);
  mlxft::fuzz::write_scratch("model/model.safetensors.index.json",
                             reinterpret_cast<const uint8_t*>(index.data()), index.size());
  try {
    for (const auto& name : mlxft::stored_tensor_names(dir)) (void)name;
  } catch (const mlxft::Error&) {
  }
  return 0;
}
