#include "mlxft/app/inputs.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "mlxft/adapters/adapter_io.h"
#include "mlxft/chat/model_format.h"
#include "mlxft/export/fuse.h"
#include "mlxft/model/adapted_linear.h"
#include "mlxft/data/tool_catalogue.h"
#include "mlxft/model/source.h"
#include "mlxft/model/weights.h"
#include "mlxft/tokenizer/load.h"
#include "mlxft/util/error.h"

namespace fs = std::filesystem;
namespace mx = mlx::core;

namespace mlxft {

namespace {

LoraConfig lora_config(const LoraSection& l) {
  LoraConfig c;
  c.kind = adapter_kind_named(l.kind).value();  // the schema allows only adapter_kind_name()s
  c.rank = l.rank;
  c.alpha = static_cast<float>(l.alpha);
  c.dropout = static_cast<float>(l.dropout);
  c.use_rslora = l.use_rslora;
  c.targets = l.target_modules;
  if (l.layers) c.layers = *l.layers;
  return c;
}

// data.tools: none (null), infer (from the training file's calls) or a catalogue file.
std::shared_ptr<const OrderedJson> catalogue_for(const DataSection& d, const DataOptions& options) {
  if (d.tools == "none") return nullptr;
  OrderedJson catalogue;
  if (d.tools == "infer") {
    catalogue = infer_tool_catalogue(read_conversations(d.dataset_path, options));
    if (catalogue.empty()) {
      throw Error(
          ErrorKind::Config, "data.tools",
          fmt::format("data.tools is infer, but {} has no tool call to infer tools from", d.dataset_path),
          "use data.tools: none, or a catalogue file");
    }
  } else {
    catalogue = load_tool_catalogue(d.tools);
  }
  if (d.tools_compact) catalogue = compact_tool_catalogue(catalogue);
  spdlog::info("tool catalogue: {} tools ({}{}), {} per prompt", catalogue.size(), d.tools,
               d.tools_compact ? ", compact" : "",
               d.tools_per_prompt > 0 ? std::to_string(d.tools_per_prompt) : std::string("all"));
  return std::make_shared<const OrderedJson>(std::move(catalogue));
}

std::vector<Example> load_extra(const std::string& path, const ChatFormat& chat, DataOptions options) {
  options.min_examples = 1;
  return load_dataset(path, chat, options).examples;
}

}  // namespace

DataOptions data_options_from(const DataSection& d) {
  DataOptions o;
  o.format = d.format == "claude" ? "conversations" : d.format;
  o.tool_format = tool_format_from_name(d.tool_format, "data.tool_format");
  o.labels = label_filter_from_name(d.labels, "data.labels");
  o.max_seq_length = d.max_seq_length;
  o.truncate = truncate_from_name(d.truncate, "data.truncate");
  o.max_bad_fraction = d.max_bad_fraction;
  o.min_examples = d.min_examples;
  o.tools_per_prompt = d.tools_per_prompt;
  o.tools_seed = static_cast<uint64_t>(d.seed);
  return o;
}

RunInputs load_inputs(const Recipe& r) {
  RunInputs in;
  const ModelSource source = resolve_model_source(r.model.path);
  in.tokenizer = load_tokenizer(source.tokenizer_file);
  in.chat = chat_format_for_model(r.data.chat_format, *in.tokenizer, source, "data.chat_format");
  DataOptions options = data_options_from(r.data);
  in.catalogue = catalogue_for(r.data, options);
  options.tool_catalogue = in.catalogue;
  Dataset data = load_dataset(r.data.dataset_path, *in.chat, options);
  for (const auto& w : data.report.warnings) spdlog::debug("{}", w);
  if (data.report.skipped_count() > 0) {
    spdlog::warn("{}: {} records skipped (see mlxft data check)", r.data.dataset_path,
                 data.report.skipped_count());
  }
  if (!r.data.valid_path.empty()) {
    in.split.train = std::move(data.examples);
    in.split.valid = load_extra(r.data.valid_path, *in.chat, options);
  } else {
    in.split =
        split_dataset(std::move(data.examples), r.data.valid_split,
                      r.data.test_path.empty() ? r.data.test_split : 0.0, static_cast<uint64_t>(r.data.seed));
  }
  if (!r.data.test_path.empty()) in.split.test = load_extra(r.data.test_path, *in.chat, options);
  in.report = std::move(data.report);
  if (in.split.train.empty()) {
    throw Error(ErrorKind::Data, r.data.dataset_path, "no training example after the split",
                "lower data.valid_split / data.test_split or add data");
  }
  return in;
}

Model load_base_model(const Recipe& r) {
  std::optional<mx::Dtype> dtype;  // "auto": the device's default compute dtype
  if (r.model.dtype != "auto") dtype = parse_dtype(r.model.dtype, "model.dtype");
  std::optional<QuantSpec> quantize;
  if (r.model.quantize) quantize = QuantSpec{r.model.quantize->bits, r.model.quantize->group_size};
  Model model = load_model(r.model.path, dtype, quantize);
  model.compute_dtype = resolve_compute_dtype(r.model.compute_dtype);
  return model;
}

LoraAdapters build_adapters(const Recipe& r, const Model& model, const std::string& init_adapter_flag) {
  const std::string& init_adapter = init_adapter_flag.empty() ? r.training.init_adapter : init_adapter_flag;
  if (init_adapter.empty())
    return init_lora(model.config, lora_config(r.lora), static_cast<uint64_t>(r.training.seed),
                     [&](const std::string& module) { return base_float_weight(model, module); });
  LoraAdapters adapters = load_adapter(init_adapter);
  check_adapter_fits(adapters, model.config, init_adapter);
  spdlog::info("starting from adapter {} ({}, r{}, alpha {})", init_adapter,
               adapter_kind_name(adapters.config.kind), adapters.config.rank, adapters.config.alpha);
  if (adapter_kind_name(adapters.config.kind) != r.lora.kind) {
    spdlog::warn("lora.kind is {} but the adapter {} is {}; training goes on as {}", r.lora.kind, init_adapter,
                 adapter_kind_name(adapters.config.kind), adapter_kind_name(adapters.config.kind));
  }
  adapters.config.dropout = static_cast<float>(r.lora.dropout);
  return adapters;
}

}  // namespace mlxft
