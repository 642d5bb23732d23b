// libFuzzer target: any bytes as a GGUF file. parse_gguf must either throw
// mlxft::Error or return a header whose every tensor lies inside the input,
// aligned, without overlaps; the llama config reader must only throw
// mlxft::Error on what it accepts.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "mlxft/formats/gguf_file.h"
#include "mlxft/model/gguf_model.h"
#include "mlxft/util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mlxft::GgufFile f;
  try {
    f = mlxft::parse_gguf(std::span<const uint8_t>(data, size), "fuzz.gguf");
  } catch (const mlxft::Error&) {
    return 0;
  }
  uint64_t last_end = 0;
  for (const auto& t : f.tensors) {
    if (t.offset < f.data_offset || t.offset % f.alignment != 0 || t.bytes > size ||
        t.offset > size - t.bytes) {
      std::abort();
    }
    last_end = std::max(last_end, t.offset + t.bytes);
  }
  if (last_end > size) std::abort();
  try {
    (void)mlxft::gguf_model_config(f);
  } catch (const mlxft::Error&) {
  }
  return 0;
}
