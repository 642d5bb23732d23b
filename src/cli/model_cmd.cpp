// `mlxft model init` writes a new random model in the Hugging Face layout
// (from a preset or a config.json, vocab from the tokenizer); `mlxft model
// info DIR` checks a model directory's weights against its config.json and
// prints the architecture, the stored dtype and the parameter counts by part.
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <string>

#include "cli/commands.h"
#include "mlxft/model/config.h"
#include "mlxft/model/init.h"
#include "mlxft/model/weights.h"
#include "mlxft/util/error.h"

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
  std::ifstream in(path);
  if (!in) throw Error(ErrorKind::Usage, "--config-json", "cannot open '" + path + "'");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorKind::Config, path, std::string("not valid JSON: ") + e.what());
  }
  j["vocab_size"] = j.value("vocab_size", 1);  // the tokenizer decides it
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

void run_info(const std::string& dir) {
  const ModelConfig c = ModelConfig::from_file(std::filesystem::path(dir) / "config.json");
  const auto weights = load_weights(dir, c);  // lazy arrays: checks names and shapes, reads no data
  std::map<std::string, int64_t> parts;
  std::set<std::string> dtypes;
  int64_t total = 0, bytes = 0;
  for (const auto& [name, w] : weights) {
    parts[part_of(name)] += static_cast<int64_t>(w.size());
    total += static_cast<int64_t>(w.size());
    bytes += static_cast<int64_t>(w.nbytes());
    dtypes.insert(dtype_name(w.dtype()));
  }
  std::string stored;
  for (const auto& d : dtypes) stored += (stored.empty() ? "" : ", ") + d;
  std::cout << fmt::format("{}\n  architecture  {} ({}ForCausalLM)\n", dir, c.model_type,
                           c.model_type == "mistral" ? "Mistral" : "Llama")
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
                   c.rms_norm_eps)
            << fmt::format("  stored dtype  {} ({:.1f} MB)\n", stored, static_cast<double>(bytes) / 1e6)
            << "  parameters\n";
  for (const char* part : {"embedding", "attention", "mlp", "norms", "lm_head"}) {
    if (parts.count(part)) std::cout << fmt::format("    {:<10} {:>15}\n", part, with_commas(parts[part]));
  }
  std::cout << fmt::format("    {:<10} {:>15}\n", "total", with_commas(total));
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
  CLI::App* info = model->add_subcommand("info", "Architecture and parameter counts of a model directory");
  info->add_option("dir", *dir, "Model directory")->required()->check(CLI::ExistingDirectory);
  info->callback([dir] { run_info(*dir); });
}

}  // namespace mlxft::cli
