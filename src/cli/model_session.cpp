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

}  // namespace mlxft::cli
