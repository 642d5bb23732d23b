// `mlxft model init` writes a new random model in the Hugging Face layout
// (from a preset or a config.json, vocab from the tokenizer); `mlxft model
// info DIR|FILE.gguf` checks a model's weights against its config and prints
// the architecture and, by part, the parameters, bytes and storage (dtype,
// "4-bit g64" for MLX triplets, the ggml type in a GGUF and how mlxft holds it,
// "Q4_K as 4-bit g32"); `mlxft model
// quantize` writes an mlx-community directory (quant_io.h).
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <string>

#include "cli/commands.h"
#include "cli/model_path_check.h"
#include "mlxft/export/random_model.h"
#include "mlxft/model/config.h"
#include "mlxft/model/family.h"
#include "mlxft/model/gguf_model.h"
#include "mlxft/model/gguf_tensors.h"
#include "mlxft/model/init.h"
#include "mlxft/model/quant_io.h"
#include "mlxft/model/source.h"
#include "mlxft/model/weights.h"
#include "mlxft/util/error.h"
#include "mlxft/util/untrusted_file.h"

namespace mx = mlx::core;

namespace mlxft::cli {
namespace {

struct InitArgs {
  std::string preset, config_json, tokenizer, dtype = "float32", out;
  uint64_t seed = 0;
  int64_t shard_size_mb = 5000;
};

// 7248023552 -> "7,248,023,552".
std::string with_commas(int64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

ModelConfig config_from_json_file(const std::string& path) {
  nlohmann::json j = read_untrusted_json(path, "--config-json file", kMaxConfigJsonBytes, ErrorKind::Config);
  // The tokenizer decides it; a placeholder above any bos/eos id lets the config's checks pass.
  if (j.is_object() && !j.contains("vocab_size")) j["vocab_size"] = 1 << 16;
  return ModelConfig::from_json(j, path);
}

void run_init(const InitArgs& a) {
  InitOptions o;
  o.config = a.preset.empty() ? config_from_json_file(a.config_json) : preset_config(a.preset, 0);
  o.tokenizer = a.tokenizer;
  o.seed = a.seed;
  o.dtype = parse_dtype(a.dtype, "--dtype");
  o.shard_size_mb = a.shard_size_mb;
  o.out = a.out;
  const ModelConfig c = write_model(o);
  std::cout << fmt::format(
      "wrote {} ({}: hidden {}, {} layers, {} heads / {} KV heads, vocab {}; {} parameters, {})\n", a.out,
      c.model_type, c.hidden_size, c.num_hidden_layers, c.num_attention_heads, c.num_key_value_heads,
      c.vocab_size, with_commas(c.parameter_count()), a.dtype);
}

// Which part of the network a weight belongs to.
std::string part_of(const std::string& name) {
  if (name == "model.embed_tokens.weight") return "embedding";
  if (name == "lm_head.weight") return "lm_head";
  if (name.find(".self_attn.") != std::string::npos) return "attention";
  if (name.find(".mlp.") != std::string::npos) return "mlp";
  return "norms";
}

// One stored tensor (or quantized triplet) of a model: its part, parameters, bytes and storage.
struct StoredTensor {
  std::string part;
  int64_t params = 0, bytes = 0;
  std::string storage;  // "float32", "Q4_1", "4-bit g64", ...
};

std::vector<StoredTensor> gguf_tensors(const GgufFile& header, const ModelConfig& c) {
  std::vector<StoredTensor> rows;
  for (const GgufTensorInfo& t : header.tensors) {
    const std::string hf = gguf_hf_name(t.name, c);
    int64_t n = 1;
    for (int64_t d : t.shape) n *= d;
    rows.push_back({part_of(hf.empty() ? t.name : hf), n, static_cast<int64_t>(t.bytes),
                    ggml_type_name(t.type) + " as " + gguf_loaded_storage(t.type)});
  }
  return rows;
}

// HF and MLX-quantized directories: lazy arrays (names and shapes checked, no data read).
std::vector<StoredTensor> directory_tensors(const ModelSource& s, const ModelConfig& c) {
  QuantMap q;
  if (s.kind == ModelSourceKind::MlxQuantizedDirectory) {
    const auto names = stored_tensor_names(s.path);
    q = mlx_quantization(
        read_untrusted_json(s.config_file, "model's config.json", kMaxConfigJsonBytes), c,
        [&](const std::string& m) { return names.count(m + ".scales") > 0; }, s.config_file.string());
  }
  const auto weights = load_weights(s.path, c, q);
  std::vector<StoredTensor> rows;
  for (const auto& [name, shape] : expected_weights(c)) {
    const std::string module = name.substr(0, name.size() - 7);
    const auto spec = q.find(module);
    StoredTensor t{part_of(name), 1, 0, ""};
    for (int d : shape) t.params *= d;
    t.bytes = static_cast<int64_t>(weights.at(name).nbytes());
    t.storage = dtype_name(weights.at(name).dtype());
    if (spec != q.end()) {
      t.bytes += static_cast<int64_t>(weights.at(module + ".scales").nbytes() +
                                      weights.at(module + ".biases").nbytes());
      t.storage = fmt::format("{}-bit g{}", spec->second.bits, spec->second.group_size);
    }
    rows.push_back(t);
  }
  return rows;
}

void print_config(const std::string& path, const ModelSource& s, const ModelConfig& c) {
  std::cout << fmt::format("{} ({})\n  architecture  {} ({})\n", path, to_string(s.kind),
                           c.model_type, family_of(c.model_type).architecture)
            << fmt::format(
                   "  shape         hidden {}, {} layers, {} heads / {} KV heads, head_dim {}, mlp {}\n",
                   c.hidden_size, c.num_hidden_layers, c.num_attention_heads, c.num_key_value_heads,
                   c.head_dim, c.intermediate_size)
            << fmt::format("  vocab         {} (bos {}, eos {}), tied embeddings: {}\n", c.vocab_size,
                           c.bos_token_id, c.eos_token_id, c.tie_word_embeddings ? "yes" : "no")
            << fmt::format(
                   "  positions     {} (rope_theta {:g}{}, rms_norm_eps {:g})\n", c.max_position_embeddings,
                   c.rope_theta,
                   c.rope_scaling.type == "default"
                       ? std::string()
                       : fmt::format(", {} scaling x{:g}", c.rope_scaling.type, c.rope_scaling.factor),
                   c.rms_norm_eps);
}

std::string joined(const std::set<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

void run_info(const std::string& path) {
  const ModelSource s = resolve_model_source(path);
  ModelConfig c;
  std::vector<StoredTensor> rows;
  if (s.kind == ModelSourceKind::GgufFile) {
    const GgufFile header = read_gguf(s.path);
    c = gguf_model_config(header);
    check_gguf_tensors(header, c, /*types=*/false);  // names and shapes; the types are listed below
    rows = gguf_tensors(header, c);
  } else {
    c = ModelConfig::from_file(s.config_file);
    rows = directory_tensors(s, c);
  }
  print_config(path, s, c);
  std::map<std::string, StoredTensor> parts;
  std::set<std::string> all;
  StoredTensor total;
  for (const auto& t : rows) {
    auto& p = parts[t.part];
    p.params += t.params, p.bytes += t.bytes, total.params += t.params, total.bytes += t.bytes;
    if (p.storage.find(t.storage) == std::string::npos)
      p.storage += (p.storage.empty() ? "" : ", ") + t.storage;
    all.insert(t.storage);
  }
  std::cout << fmt::format("  stored        {} ({:.1f} MB)\n", joined(all),
                           static_cast<double>(total.bytes) / 1e6)
            << "  parameters                     bytes   storage\n";
  for (const char* part : {"embedding", "attention", "mlp", "norms", "lm_head"}) {
    if (!parts.count(part)) continue;
    const auto& p = parts[part];
    std::cout << fmt::format("    {:<10} {:>15} {:>8.1f} MB  {}\n", part, with_commas(p.params),
                             static_cast<double>(p.bytes) / 1e6, p.storage);
  }
  std::cout << fmt::format("    {:<10} {:>15} {:>8.1f} MB\n", "total", with_commas(total.params),
                           static_cast<double>(total.bytes) / 1e6);
}

struct QuantizeArgs {
  std::string model, out, dtype = "float16";
  int bits = 4, group_size = 64;
};

void run_quantize(const QuantizeArgs& a) {
  const QuantMap q =
      write_quantized_model(a.model, a.out, QuantSpec{a.bits, a.group_size}, parse_dtype(a.dtype, "--dtype"));
  std::cout << fmt::format("wrote {} ({} modules quantized to {} bits, group size {}; floats in {})\n", a.out,
                           q.size(), a.bits, a.group_size, a.dtype);
}

}  // namespace

void add_model_command(CLI::App& app, const GlobalOptions& /*global*/) {
  CLI::App* model = app.add_subcommand("model", "Create or inspect model directories");
  model->require_subcommand(1);

  auto args = std::make_shared<InitArgs>();
  CLI::App* init = model->add_subcommand("init", "Write a new model with random weights in the HF layout");
  auto* preset = init->add_option("--preset", args->preset, "tiny | small | mistral-7b-shape")
                     ->check(CLI::IsMember({"tiny", "small", "mistral-7b-shape"}));
  auto* config = init->add_option("--config-json", args->config_json, "A HF config.json giving the shape");
  preset->excludes(config);
  init->add_option("--tokenizer", args->tokenizer, "SentencePiece tokenizer.model (gives the vocab)")
      ->required()
      ->check(CLI::ExistingFile);
  init->add_option("--seed", args->seed, "Random seed")->capture_default_str();
  init->add_option("--dtype", args->dtype, "float32 | bfloat16 | float16")->capture_default_str();
  init->add_option("--out", args->out, "New model directory (must not exist or be empty)")->required();
  init->add_option("--shard-size-mb", args->shard_size_mb, "Largest weights file before sharding")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  init->callback([args, preset, config] {
    if (preset->count() == 0 && config->count() == 0) {
      throw Error(ErrorKind::Usage, "model init", "give --preset or --config-json");
    }
    run_init(*args);
  });

  auto dir = std::make_shared<std::string>();
  CLI::App* info = model->add_subcommand("info", "Architecture, parameters and storage of a model");
  auto* positional =
      info->add_option("dir", *dir, "Model directory or .gguf file")->check(existing_model_path());
  auto* named =
      info->add_option("--model", *dir, "Model directory or .gguf file")->check(existing_model_path());
  positional->excludes(named);
  info->callback([dir] {
    if (dir->empty()) throw Error(ErrorKind::Usage, "model info", "give a model directory or .gguf file");
    run_info(*dir);
  });

  auto q = std::make_shared<QuantizeArgs>();
  CLI::App* quantize =
      model->add_subcommand("quantize", "Write an MLX-quantized (mlx-community) copy of a model");
  quantize->add_option("--model", q->model, "Float Hugging Face model directory")
      ->required()
      ->check(CLI::ExistingDirectory);
  quantize->add_option("--bits", q->bits, "Bits per weight")
      ->check(CLI::IsMember({2, 3, 4, 5, 6, 8}))
      ->capture_default_str();
  quantize->add_option("--group-size", q->group_size, "Weights per scale/bias")
      ->check(CLI::IsMember({32, 64, 128}))
      ->capture_default_str();
  quantize->add_option("--dtype", q->dtype, "Dtype of norms, scales and biases: float16 | bfloat16 | float32")
      ->capture_default_str();
  quantize->add_option("--out", q->out, "New model directory (must not exist or be empty)")->required();
  quantize->callback([q] { run_quantize(*q); });
}

}  // namespace mlxft::cli
