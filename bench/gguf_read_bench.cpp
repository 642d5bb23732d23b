// How fast mlxft reads a GGUF file's tensors into the arrays a model holds (gguf_tensors.h), by ggml
// type; with --dump, the values of chosen tensors for scripts/reference/gguf_kquant_check.py.
//
//   gguf_read_bench FILE.gguf [--dump OUT.safetensors NAME[,NAME...]]
//
// Prints, per ggml type: tensors, elements, seconds and elements/s of read + convert. Needs no model
// architecture (any GGUF whose header mlxft parses). --dump writes, for each NAME: "NAME" float32
// (ggml's values, gguf_tensor_float), and for a tensor held as an MLX triplet "NAME.mlx" (its
// mx::dequantize with the scales as held) and "NAME.mlx_f16" (with scales and biases rounded to
// float16 first: the error that choice would add).
#include <chrono>
#include <iostream>
#include <map>
#include <sstream>

#include "mlxft/formats/gguf_file.h"
#include "mlxft/formats/safetensors.h"
#include "mlxft/model/gguf_tensors.h"
#include "mlxft/util/error.h"

namespace mx = mlx::core;
using namespace mlxft;

int main(int argc, char** argv) {
  if (argc != 2 && argc != 5) {
    std::cerr << "usage: gguf_read_bench FILE.gguf [--dump OUT.safetensors NAME[,NAME...]]\n";
    return 2;
  }
  try {
    const GgufFile f = read_gguf(argv[1]);
    const GgufTensorReader reader(f, argv[1]);
    struct Row {
      uint32_t type = 0;
      int tensors = 0;
      double elements = 0, seconds = 0;
    };
    std::map<std::string, Row> by_type;
    for (const GgufTensorInfo& t : f.tensors) {
      if (!gguf_type_loadable(t.type)) continue;
      const auto start = std::chrono::steady_clock::now();
      GgufTensorArrays a = gguf_tensor_arrays(f, t, reader.bytes(t));
      mx::eval(a.weight);
      Row& r = by_type[ggml_type_name(t.type)];
      r.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      r.type = t.type;
      r.tensors += 1;
      double n = 1;
      for (int64_t d : t.shape) n *= static_cast<double>(d);
      r.elements += n;
    }
    std::cout << "type     tensors      elements  seconds   Melem/s  held as\n";
    for (const auto& [type, r] : by_type) {
      std::printf("%-6s %9d %13.0f %8.3f %9.1f  %s\n", type.c_str(), r.tensors, r.elements, r.seconds,
                  r.elements / r.seconds / 1e6,
                  gguf_loaded_storage(r.type).c_str());
    }
    if (argc == 5 && std::string(argv[2]) == "--dump") {
      std::unordered_map<std::string, mx::array> out;
      std::stringstream names(argv[4]);
      for (std::string name; std::getline(names, name, ',');) {
        const GgufTensorInfo* t = f.tensor(name);
        if (!t) throw Error(ErrorKind::Usage, argv[1], "has no tensor '" + name + "'");
        const std::vector<uint8_t> bytes = reader.bytes(*t);
        out.insert_or_assign(name, gguf_tensor_float(f, *t, bytes));
        const GgufTensorArrays a = gguf_tensor_arrays(f, *t, bytes);
        if (!a.spec) continue;
        const auto f32 = [](const mx::array& x) { return mx::astype(x, mx::float32); };
        const auto f16 = [](const mx::array& x) { return mx::astype(mx::astype(x, mx::float16), mx::float32); };
        out.insert_or_assign(name + ".mlx", mx::dequantize(a.weight, f32(*a.scales), f32(*a.biases),
                                                           a.spec->group_size, a.spec->bits));
        out.insert_or_assign(name + ".mlx_f16", mx::dequantize(a.weight, f16(*a.scales), f16(*a.biases),
                                                               a.spec->group_size, a.spec->bits));
      }
      save_safetensors(std::filesystem::path(argv[3]), out);
      std::cout << "wrote " << out.size() << " arrays to " << argv[3] << "\n";
    }
  } catch (const Error& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
  return 0;
}
