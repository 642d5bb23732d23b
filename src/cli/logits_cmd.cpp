// `mlxft model logits --model M [--adapter A] --ids 1,2,3 [--greedy N] [--out F.safetensors]`:
// what a reference implementation needs to compare against: the float32 logits [1, T, V] of the
// given ids (written to --out as "logits", with the ids as "ids") and, with --greedy N, the N
// ids greedy decoding appends (argmax, no stop), printed as a JSON array. The parity scripts of
// the exports (scripts/reference/export_check.py) use it.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <iostream>

#include "cli/commands.h"
#include "cli/model_path_check.h"
#include "mlxft/adapters/adapter_io.h"
#include "mlxft/formats/safetensors.h"
#include "mlxft/model/llama.h"
#include "mlxft/model/weights.h"
#include "mlxft/util/error.h"

namespace mx = mlx::core;

namespace mlxft::cli {
namespace {

struct LogitsArgs {
  std::string model, adapter, out, dtype = "float32";
  std::vector<int32_t> ids;
  int greedy = 0;
};

void run_logits(const LogitsArgs& a) {
  const Model model = load_model(a.model, parse_dtype(a.dtype, "--dtype"));
  std::optional<LoraAdapters> lora;
  if (!a.adapter.empty()) {
    lora = load_adapter(a.adapter);
    check_adapter_fits(*lora, model.config, a.adapter);
    fix_dora_norms(*lora, model);
  }
  ForwardOptions options;
  if (lora) options.lora = &*lora;
  for (int32_t id : a.ids) {
    if (id < 0 || id >= model.config.vocab_size)
      throw Error(ErrorKind::Usage, "--ids", fmt::format("id {} is outside the vocabulary", id));
  }
  const mx::array ids(a.ids.data(), {1, static_cast<int>(a.ids.size())}, mx::int32);
  if (!a.out.empty()) save_safetensors(a.out, {{"logits", forward(model, ids, options)}, {"ids", ids}});
  if (a.greedy <= 0) return;
  KVCache cache;
  mx::array logits = forward(model, ids, options, &cache);
  std::vector<int32_t> next;
  for (int i = 0; i < a.greedy; ++i) {
    const mx::array last = mx::argmax(mx::slice(logits, {0, logits.shape(1) - 1, 0}, logits.shape()), -1);
    next.push_back(mx::astype(last, mx::int32).item<int32_t>());
    if (i + 1 < a.greedy)
      logits = forward(model, mx::array(&next.back(), {1, 1}, mx::int32), options, &cache);
  }
  std::cout << fmt::format("[{}]", fmt::join(next, ", ")) << std::endl;
}

}  // namespace

void add_logits_command(CLI::App& model_app) {
  auto a = std::make_shared<LogitsArgs>();
  CLI::App* cmd =
      model_app.add_subcommand("logits", "Logits and greedy continuation of token ids (parity checks)");
  cmd->add_option("--model", a->model, "Model: HF or MLX-quantized directory, or a .gguf file")
      ->required()
      ->check(existing_model_path());
  cmd->add_option("--adapter", a->adapter, "LoRA adapter directory (PEFT or mlx-lm)")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--ids", a->ids, "Token ids, comma-separated")->required()->delimiter(',');
  cmd->add_option("--greedy", a->greedy, "Ids to append greedily, printed as a JSON array")
      ->capture_default_str();
  cmd->add_option("--out", a->out, "safetensors file for the logits [1, T, V] (float32) and the ids");
  cmd->add_option("--dtype", a->dtype, "Compute dtype: float32 | bfloat16 | float16")->capture_default_str();
  cmd->callback([a] { run_logits(*a); });
}

}  // namespace mlxft::cli
