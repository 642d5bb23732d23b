// libFuzzer target: any bytes as a GGUF file, past the header: the tokenizer vocabulary (either
// kind, as load_tokenizer reads it) and the model's tensors checked against its config (what
// load_model does before MLX reads a byte). Must throw mlxft::Error or succeed; the k-quants MLX
// misreads are always refused.
#include <cstdint>
#include <cstdlib>

#include "fuzz_support.h"
#include "mlxft/formats/gguf_file.h"
#include "mlxft/model/gguf_model.h"
#include "mlxft/tokenizer/load.h"
#include "mlxft/util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mlxft::GgufFile f;
  try {
    f = mlxft::parse_gguf(std::span<const uint8_t>(data, size), "fuzz.gguf");
  } catch (const mlxft::Error&) {
    return 0;
  }
  try {
    const mlxft::ModelConfig c = mlxft::gguf_model_config(f);
    mlxft::check_gguf_tensors(f, c);
    for (const auto& t : f.tensors) {
      if (t.type == static_cast<uint32_t>(mlxft::GgmlType::Q4_K) ||
          t.type == static_cast<uint32_t>(mlxft::GgmlType::Q6_K)) {
        std::abort();  // must have been refused
      }
    }
  } catch (const mlxft::Error&) {
  }
  const auto file = mlxft::fuzz::write_scratch("m.gguf", data, size);
  try {
    const auto t = mlxft::load_tokenizer(file);
    for (const int32_t id : t->encode("Hello world! 123\n")) {
      if (id < 0 || id >= t->vocab_size()) std::abort();
    }
  } catch (const mlxft::Error&) {
  }
  return 0;
}
