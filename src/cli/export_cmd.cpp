// `mlxft export gguf --model M [--adapter A] --out F.gguf [--type T]`: the (fused) model as a llama.cpp
// GGUF; `mlxft export gguf-lora --model M --adapter A --out F.gguf`: the adapter in llama.cpp's LoRA
// format, applied to the base GGUF at run time. Both write an Ollama Modelfile beside the file
// (export/gguf_export.h, export/modelfile.h).
#include <fmt/format.h>

#include <iostream>

#include "cli/commands.h"
#include "cli/model_path_check.h"
#include "mlxft/export/gguf_export.h"

namespace mlxft::cli {
namespace {

struct ExportArgs {
  std::string model, adapter, out, type = "f16", base_gguf;
};

void print(const ExportArgs& a, const GgufExportResult& r, const std::string& what) {
  std::cout << fmt::format("wrote {} ({}, {} tensors, {:.1f} MB) and {}\n", a.out, what, r.tensors,
                           static_cast<double>(r.bytes) / 1e6, r.modelfile.string());
}

void add_common(CLI::App* cmd, ExportArgs& a) {
  cmd->add_option("--model", a.model, "Base model: HF directory, MLX-quantized directory or .gguf file")
      ->required()
      ->check(existing_model_path());
  cmd->add_option("--out", a.out, "New .gguf file (must not exist)")->required();
}

}  // namespace

void add_export_command(CLI::App& app, const GlobalOptions& /*global*/) {
  CLI::App* exp = app.add_subcommand("export", "Write a model or adapter for llama.cpp / Ollama (GGUF)");
  exp->require_subcommand(1);

  auto g = std::make_shared<ExportArgs>();
  CLI::App* gguf = exp->add_subcommand("gguf",
                                       "The model (with its adapter merged) as a GGUF of its llama.cpp "
                                       "architecture (llama, qwen2, qwen3, gemma3)");
  add_common(gguf, *g);
  gguf->add_option("--adapter", g->adapter, "Adapter directory (PEFT or mlx-lm) to merge")
      ->check(CLI::ExistingDirectory);
  gguf->add_option("--type", g->type, "Tensor type of the matrices: f32 | f16 | q8_0 | q4_0")
      ->capture_default_str();
  gguf->callback([g] {
    const GgmlType type = parse_gguf_export_type(g->type, "--type");
    print(*g, write_gguf_model({g->model, g->adapter, g->out, type, {}}), g->type);
  });

  auto l = std::make_shared<ExportArgs>();
  CLI::App* lora = exp->add_subcommand("gguf-lora", "The adapter as a llama.cpp LoRA GGUF");
  add_common(lora, *l);
  lora->add_option("--adapter", l->adapter, "Adapter directory (PEFT or mlx-lm)")
      ->required()
      ->check(CLI::ExistingDirectory);
  lora->add_option("--base-gguf", l->base_gguf,
                   "The base model's GGUF for the Modelfile's FROM (default: --model when it is a .gguf)");
  lora->callback([l] {
    print(*l, write_gguf_lora({l->model, l->adapter, l->out, GgmlType::F32, l->base_gguf}), "LoRA");
  });
}

}  // namespace mlxft::cli
