// libFuzzer target: any bytes as an adapter directory's adapter_config.json (PEFT or mlx-lm: the first
// byte picks which), and after a "\n--8<--\n" line as its safetensors weights. load_adapter must throw
// mlxft::Error or return adapters whose A and B shapes agree with the rank.
#include <cstdint>
#include <cstdlib>

#include "fuzz_support.h"
#include "mlxft/adapters/adapter_io.h"
#include "mlxft/util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool peft = data[0] & 1;
  const auto [config, weights] = mlxft::fuzz::split_input(data + 1, size - 1);
  const auto dir = mlxft::fuzz::scratch_dir() / "adapter";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  mlxft::fuzz::write_scratch("adapter/adapter_config.json", reinterpret_cast<const uint8_t*>(config.data()),
                             config.size());
  mlxft::fuzz::write_scratch(peft ? "adapter/adapter_model.safetensors" : "adapter/adapters.safetensors",
                             reinterpret_cast<const uint8_t*>(weights.data()), weights.size());
  try {
    const mlxft::LoraAdapters a = mlxft::load_adapter(dir);
    if (a.config.rank < 1) std::abort();
  } catch (const mlxft::Error&) {
  }
  return 0;
}
