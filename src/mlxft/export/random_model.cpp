// Random HF-layout model directories (see random_model.h).
#include "mlxft/export/random_model.h"

#include <fmt/format.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <vector>

#include "mlxft/formats/safetensors.h"
#include "mlxft/model/init.h"
#include "mlxft/model/weights.h"
#include "mlxft/tokenizer/sentencepiece_tokenizer.h"
#include "mlxft/util/durable_file.h"
#include "mlxft/util/error.h"

namespace mx = mlx::core;
namespace fs = std::filesystem;

namespace mlxft {
namespace {

void write_json(const fs::path& file, const nlohmann::json& j) {
  write_file_atomic(file, j.dump(2) + "\n");
}

std::string shard_name(size_t k, size_t n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "model-%05zu-of-%05zu.safetensors", k, n);
  return buf;
}

// Splits the tensors, in expected_weights() order, into consecutive shards of at most `limit` bytes.
std::vector<std::vector<std::string>> plan_shards(const ModelConfig& c, mx::Dtype dtype, int64_t limit) {
  std::vector<std::vector<std::string>> shards(1);
  int64_t bytes = 0;
  for (const auto& [name, shape] : expected_weights(c)) {
    int64_t n = static_cast<int64_t>(mx::size_of(dtype));
    for (int d : shape) n *= d;
    if (bytes > 0 && bytes + n > limit) {
      shards.emplace_back();
      bytes = 0;
    }
    shards.back().push_back(name);
    bytes += n;
  }
  return shards;
}

// Every file of the model directory, written into `dir`.
void write_files(const fs::path& dir, const ModelConfig& c, const Tokenizer& tokenizer,
                 const InitOptions& o) {
  write_json(dir / "config.json", c.to_json());
  fs::copy_file(o.tokenizer, dir / "tokenizer.model");
  write_json(dir / "tokenizer_config.json", {{"add_bos_token", true},
                                             {"add_eos_token", false},
                                             {"bos_token", tokenizer.piece(c.bos_token_id)},
                                             {"eos_token", tokenizer.piece(c.eos_token_id)},
                                             {"unk_token", "<unk>"},
                                             {"clean_up_tokenization_spaces", false},
                                             {"legacy", false},
                                             {"model_max_length", c.max_position_embeddings},
                                             {"tokenizer_class", "LlamaTokenizer"}});
  write_json(
      dir / "generation_config.json",
      {{"_from_model_config", true}, {"bos_token_id", c.bos_token_id}, {"eos_token_id", c.eos_token_id}});

  auto weights = random_weights(c, o.seed, o.dtype);
  const auto shards = plan_shards(c, o.dtype, o.shard_size_mb * 1000 * 1000);
  nlohmann::json weight_map = nlohmann::json::object();
  int64_t total = 0;
  for (size_t s = 0; s < shards.size(); ++s) {
    const std::string file = shards.size() == 1 ? "model.safetensors" : shard_name(s + 1, shards.size());
    std::unordered_map<std::string, mx::array> part;
    for (const auto& name : shards[s]) {
      part.insert_or_assign(name, weights.at(name));
      weight_map[name] = file;
      total += static_cast<int64_t>(weights.at(name).nbytes());
    }
    save_safetensors(dir / file, part);
    for (const auto& name : shards[s]) weights.erase(name);  // free each shard once written
  }
  if (shards.size() > 1) {
    write_json(dir / "model.safetensors.index.json",
               {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}});
  }
}

}  // namespace

ModelConfig write_model(const InitOptions& o) {
  if (fs::exists(o.out) && !(fs::is_directory(o.out) && fs::is_empty(o.out))) {
    throw Error(ErrorKind::Usage, o.out.string(), "already exists and is not an empty directory",
                "choose a new --out directory; mlxft never overwrites a model");
  }
  if (o.shard_size_mb < 1) throw Error(ErrorKind::Usage, "--shard-size-mb", "must be at least 1");
  const auto tokenizer = SentencePieceTokenizer::load(o.tokenizer);
  ModelConfig c = o.config;
  c.vocab_size = tokenizer.vocab_size();
  c.bos_token_id = tokenizer.bos_id();
  c.eos_token_id = tokenizer.eos_id();
  c.torch_dtype = dtype_name(o.dtype);
  (void)ModelConfig::from_json(c.to_json(), "--config-json");  // the same checks a loader applies

  try {
    StagedDirectory staged(o.out);  // an empty o.out (checked above) is replaced by the whole model
    write_files(staged.path(), c, tokenizer, o);
    staged.publish();
  } catch (const fs::filesystem_error& e) {
    throw Error(ErrorKind::Io, o.out.string(), fmt::format("could not write the model: {}", e.what()));
  }
  return c;
}

}  // namespace mlxft
