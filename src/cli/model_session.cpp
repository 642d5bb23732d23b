#include "cli/model_session.h"

#include <fmt/format.h>

#include "mlxft/adapters/adapter_io.h"
#include "mlxft/chat/model_format.h"
#include "mlxft/model/source.h"
#include "mlxft/model/weights.h"
#include "mlxft/tokenizer/load.h"
#include "mlxft/util/error.h"

namespace mlxft::cli {

ModelSession load_model_session(const std::filesystem::path& model_dir, const std::string& tokenizer,
                                const std::string& dtype, const std::string& adapter,
                                const std::string& chat_format) {
  const ModelSource source = resolve_model_source(model_dir);
  const std::filesystem::path tok_file =
      tokenizer.empty() ? source.tokenizer_file : std::filesystem::path(tokenizer);
  auto tok = load_tokenizer(tok_file);  // a missing file is a Model error naming it
  std::optional<mlx::core::Dtype> compute;
  if (!dtype.empty()) compute = parse_dtype(dtype, "--dtype");
  Model model = load_model(model_dir, compute);
  check_tokenizer_fits_model(*tok, model.config, tok_file);
  std::optional<LoraAdapters> adapters;
  if (!adapter.empty()) {
    adapters = load_adapter(adapter);
    check_adapter_fits(*adapters, model.config, adapter);
    fix_dora_norms(*adapters, model);
  }
  auto chat = chat_format_for_model(chat_format, *tok, source, "--chat-format");
  return {tok_file, std::move(tok), std::move(chat), std::move(model), std::move(adapters)};
}

void add_session_options(CLI::App* cmd, std::string& dtype, std::string& tokenizer) {
  cmd->add_option("--dtype", dtype, "Compute dtype: float32 | bfloat16 | float16 (default: float32 on CPU)");
  cmd->add_option("--tokenizer", tokenizer, "tokenizer.model (default: the model directory's)")
      ->check(CLI::ExistingFile);
}

void add_sampling_options(CLI::App* cmd, GenerateOptions& options) {
  cmd->add_option("--temperature", options.sampling.temperature, "0 = greedy")
      ->check(CLI::Range(0.0, 100.0))
      ->capture_default_str();
  cmd->add_option("--top-p", options.sampling.top_p, "Nucleus sampling mass")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--seed", options.seed, "Sampling seed")->capture_default_str();
}

}  // namespace mlxft::cli
