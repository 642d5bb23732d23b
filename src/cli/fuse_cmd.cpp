// `mlxft fuse --model M [--adapter A] --out DIR [--dtype D]`: the model with its LoRA adapter
// merged, as a Hugging Face directory that transformers (and vLLM) load (export/hf_dir.h).
#include <fmt/format.h>

#include <iostream>

#include "cli/commands.h"
#include "cli/model_path_check.h"
#include "mlxft/export/hf_dir.h"
#include "mlxft/model/weights.h"

namespace mlxft::cli {

void add_fuse_command(CLI::App& app, const GlobalOptions& /*global*/) {
  struct Args {
    std::string model, adapter, out, dtype = "float32";
    int64_t shard_size_mb = 5000;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("fuse", "Merge a LoRA adapter into its model: a Hugging Face directory");
  cmd->add_option("--model", a->model, "Base model: HF directory, MLX-quantized directory or .gguf file")
      ->required()
      ->check(existing_model_path());
  cmd->add_option("--adapter", a->adapter, "Adapter directory (PEFT or mlx-lm); none: the base, dequantized")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--out", a->out, "New directory (must not exist)")->required();
  cmd->add_option("--dtype", a->dtype, "Dtype of the fused weights: float32 | bfloat16 | float16")
      ->capture_default_str();
  cmd->add_option("--shard-size-mb", a->shard_size_mb, "Largest weights file before sharding")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->callback([a] {
    FuseOptions o{a->model, a->adapter, a->out, parse_dtype(a->dtype, "--dtype"),
                  a->shard_size_mb * 1'000'000};
    const FuseResult r = write_fused_model(o);
    std::cout << fmt::format("wrote {} ({} tensors in {} file{}, {:.1f} MB, {})\n", a->out, r.tensors,
                             r.shards, r.shards == 1 ? "" : "s", static_cast<double>(r.bytes) / 1e6,
                             a->dtype);
  });
}

}  // namespace mlxft::cli
