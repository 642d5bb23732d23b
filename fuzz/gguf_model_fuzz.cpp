// libFuzzer target: any bytes as a GGUF file, past the header: the tokenizer vocabulary (either
// kind, as load_tokenizer reads it), the model's tensors checked against its config (what
// load_model does before it reads a tensor), and every loadable tensor of up to 64K elements turned
// into the arrays a model holds (gguf_tensor_arrays: float, or MLX's affine triplet, whose shapes
// must match the tensor's). Must throw mlxft::Error or succeed.
#include <cstdint>
#include <cstdlib>

#include "fuzz_support.h"
#include "mlxft/formats/gguf_file.h"
#include "mlxft/model/gguf_model.h"
#include "mlxft/model/gguf_tensors.h"
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
  } catch (const mlxft::Error&) {
  }
  for (const auto& t : f.tensors) {
    int64_t n = 1;
    for (int64_t d : t.shape) n *= d;
    if (!mlxft::gguf_type_loadable(t.type) || n > (1 << 16)) continue;
    const auto a = mlxft::gguf_tensor_arrays(f, t, std::span<const uint8_t>(data + t.offset, t.bytes));
    if (a.spec && (a.scales->shape(-1) * 32 != t.shape.back() || a.weight.shape(0) != t.shape[0] ||
                   a.weight.shape(-1) * 32 != t.shape.back() * a.spec->bits)) {
      std::abort();
    }
    if (!a.spec && a.weight.size() != static_cast<size_t>(n)) std::abort();
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
