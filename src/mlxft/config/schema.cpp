#include "mlxft/config/schema.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <set>
#include <type_traits>

#include "mlxft/chat/chat_format.h"
#include "mlxft/config/schema_codec.h"
#include "mlxft/data/options.h"
#include "mlxft/model/adapted_linear.h"
#include "mlxft/model/lora.h"
#include "mlxft/util/device.h"

// The table below uses designated initializers that leave the other members at their defaults on
// purpose; g++ 12 flags that under -Wextra.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace mlxft {
namespace {

using namespace schema_codec;

// ---- one table row ----------------------------------------------------------------------------

template <class S, class T>
FieldSpec field(const char* section, const char* key, S Recipe::*sec, T S::*mem, const char* help,
                Constraint c = {}) {
  FieldSpec f;
  f.section = section;
  f.key = key;
  f.help = help;
  f.type = c.path                                                   ? "path"
           : (!c.choices.empty() && std::is_same_v<T, std::string>) ? "choice"
                                                                    : Codec<T>::type;
  if (c.nullable && std::is_same_v<T, std::string>) f.type += " or null";
  if (!c.keywords.empty()) f.type = fmt::format("{} or a path", fmt::join(c.keywords, ", "));
  f.constraint = c;
  const bool nullable = c.nullable;
  f.decode = [sec, mem, nullable](Recipe& r, const YAML::Node& n) {
    return Codec<T>::decode(n, nullable, (r.*sec).*mem);
  };
  f.encode = [sec, mem](const Recipe& r) { return Codec<T>::encode((r.*sec).*mem); };
  f.check = [sec, mem, c](const Recipe& r) { return check_value((r.*sec).*mem, c); };
  if constexpr (std::is_same_v<T, std::string>) {
    if (c.path) f.path_ref = [sec, mem](Recipe& r) -> std::string& { return (r.*sec).*mem; };
  }
  return f;
}

Range at_least(double low) {
  return Range{.low = low};
}
Range above(double low) {
  return Range{.low = low, .low_open = true};
}
Range between(double low, double high) {
  return Range{.low = low, .high = high};
}
Range fraction_below_one() {
  return Range{.low = 0, .high = 1, .high_open = true};
}

// The rows of the `model:` section.
std::vector<FieldSpec> model_rows() {
  using R = Recipe;
  return {
      field("model", "path", &R::model, &ModelSection::path,
            "Model: a Hugging Face or MLX-quantized (mlx-community) directory, a .gguf file, or "
            "shipped:smollm2-135m-instruct-q4_1 (the GGUF the set-up installs into .venv)",
            {.required = true, .path = true}),
      field("model", "name", &R::model, &ModelSection::name,
            "Name recorded in metadata and reports (null: the directory's name)", {.nullable = true}),
      field("model", "dtype", &R::model, &ModelSection::dtype,
            "Compute dtype of the base weights (auto: float32 on CPU, bfloat16 on GPU)",
            {.choices = {"auto", "float32", "bfloat16", "float16"}}),
      field("model", "quantize", &R::model, &ModelSection::quantize,
            "Quantize the float base at load (QLoRA), e.g. {bits: 4, group_size: 64}; null: as stored",
            {.nullable = true}),
      field("model", "compute_dtype", &R::model, &ModelSection::compute_dtype,
            "Dtype of the frozen matmuls, the fused LM head + loss and the attention's block products on the "
            "CPU kernels (oneDNN, AVX512-BF16): the "
            "weights are copied once into it, activations, adapters, gradients and optimizer state keep "
            "their dtypes (auto: bfloat16 where the CPU has AMX or AVX512-BF16, else float32; on a GPU "
            "or without oneDNN the matmuls run in model.dtype)",
            {.choices = {"auto", "float32", "bfloat16"}}),
      field("model", "pack_weights", &R::model, &ModelSection::pack_weights,
            "Also keep every frozen projection reordered once into oneDNN's blocked layouts for its two "
            "products (bfloat16 compute on the CPU kernels; faster steps, two more copies of the "
            "projections: 2 x 2 bytes a parameter). A quantized base's projections and head are then "
            "dequantized once instead of on every call (2 bytes a parameter more). auto: when the run's "
            "memory estimate with them stays under advanced.memory_warning_fraction of the budget; a float "
            "LM head is packed in bfloat16 anyway",
            {.choices = {"auto", "always", "never"}}),
  };
}

// The rows of the `lora:` section. Choice names come from their owners (model/lora.h, data/options.h,
// chat/chat_format.h), so the schema, the flags and the error hints never drift apart.
std::vector<FieldSpec> lora_rows() {
  using R = Recipe;
  const std::vector<std::string>& targets = lora_target_names();
  std::vector<std::string> kinds;
  for (const AdapterKind k : adapter_kinds()) kinds.push_back(adapter_kind_name(k));
  return {
      field("lora", "kind", &R::lora, &LoraSection::kind,
            "Adapter kind: lora, or dora (weight-decomposed: a trained magnitude per output row)",
            {.choices = kinds}),
      field("lora", "rank", &R::lora, &LoraSection::rank, "LoRA rank r", {.range = between(1, 4096)}),
      field("lora", "alpha", &R::lora, &LoraSection::alpha, "LoRA alpha; scale = alpha / rank",
            {.range = above(0)}),
      field("lora", "dropout", &R::lora, &LoraSection::dropout, "Dropout on the LoRA input during training",
            {.range = fraction_below_one()}),
      field("lora", "target_modules", &R::lora, &LoraSection::target_modules, "Projections that get adapters",
            {.choices = targets, .required = true}),
      field("lora", "layers", &R::lora, &LoraSection::layers, "Layer indices that get adapters (null: all)",
            {.range = at_least(0), .nullable = true}),
      field("lora", "use_rslora", &R::lora, &LoraSection::use_rslora,
            "Rank-stabilised LoRA: scale = alpha / sqrt(rank)"),
  };
}

// The rows of the `data:` section.
std::vector<FieldSpec> data_rows() {
  using R = Recipe;
  return {
      field("data", "dataset_path", &R::data, &DataSection::dataset_path, "Training data (JSONL)",
            {.required = true, .path = true}),
      field("data", "valid_path", &R::data, &DataSection::valid_path,
            "Validation data (JSONL); null: split it from dataset_path", {.nullable = true, .path = true}),
      field("data", "test_path", &R::data, &DataSection::test_path,
            "Test data (JSONL); null: split it from dataset_path when test_split > 0",
            {.nullable = true, .path = true}),
      field("data", "format", &R::data, &DataSection::format,
            "Record format (conversations, also called claude: the seed's {conversations, label}; auto: "
            "detect from the first record)",
            {.choices = data_format_names()}),
      field("data", "tool_format", &R::data, &DataSection::tool_format,
            "Tool calls rendered as the chat format's own calls (native: Mistral [TOOL_CALLS], ChatML "
            "<tool_call> blocks) or kept as plain text",
            {.choices = tool_format_names()}),
      field("data", "chat_format", &R::data, &DataSection::chat_format,
            "Chat format of the rendered conversations; auto: recognised from the model's chat template",
            {.choices = chat_format_choice_names()}),
      field("data", "labels", &R::data, &DataSection::labels, "Records used for training, by their label",
            {.choices = label_filter_names()}),
      field("data", "min_examples", &R::data, &DataSection::min_examples,
            "Fewer usable training examples is a fatal data error", {.range = at_least(1)}),
      field("data", "max_bad_fraction", &R::data, &DataSection::max_bad_fraction,
            "A larger fraction of bad lines is a fatal data error", {.range = between(0, 1)}),
      field("data", "max_seq_length", &R::data, &DataSection::max_seq_length, "Maximum tokens per example",
            {.range = between(2, 1 << 20)}),
      field("data", "truncate", &R::data, &DataSection::truncate,
            "Examples over max_seq_length: drop them, or cut them at the end", {.choices = truncate_names()}),
      field("data", "valid_split", &R::data, &DataSection::valid_split,
            "Fraction for validation (with valid_path set, this share trains instead)",
            {.range = fraction_below_one()}),
      field("data", "test_split", &R::data, &DataSection::test_split,
            "Fraction for the test set (with test_path set, this share trains instead)",
            {.range = fraction_below_one()}),
      field("data", "seed", &R::data, &DataSection::seed, "Seed of the split", {.range = at_least(0)}),
      field("data", "tools", &R::data, &DataSection::tools,
            "Tool catalogue offered in the prompt of every record without tools of its own, at training "
            "and evaluation (never trained on): none, infer (from every call in dataset_path, as `mlxft "
            "data tools` does) or a JSON file; saved as tools.json beside the adapters",
            {.path = true, .keywords = {"none", "infer"}}),
      field("data", "tools_per_prompt", &R::data, &DataSection::tools_per_prompt,
            "With data.tools: offer each training record its called tools plus random others, this many "
            "in all (0: the whole catalogue); evaluation always offers the whole catalogue",
            {.range = at_least(0)}),
      field("data", "tools_compact", &R::data, &DataSection::tools_compact,
            "With data.tools: the compact catalogue (nested argument objects by their type alone, no empty "
            "descriptions), in fewer prompt tokens"),
  };
}

// The rows of the `training:` section.
std::vector<FieldSpec> training_rows() {
  using R = Recipe;
  return {
      field("training", "optimizer", &R::training, &TrainingSection::optimizer, "Optimizer",
            {.choices = {"adamw", "sgd"}}),
      field("training", "num_epochs", &R::training, &TrainingSection::num_epochs,
            "Passes over the training data (when max_steps <= 0)", {.range = at_least(1)}),
      field("training", "max_steps", &R::training, &TrainingSection::max_steps,
            "Optimizer steps to run; -1 or 0: num_epochs decides", {.range = at_least(-1)}),
      field("training", "batch_size", &R::training, &TrainingSection::batch_size, "Examples per micro-batch",
            {.range = at_least(1)}),
      field("training", "gradient_accumulation_steps", &R::training,
            &TrainingSection::gradient_accumulation_steps, "Micro-batches per optimizer step",
            {.range = at_least(1)}),
      field("training", "learning_rate", &R::training, &TrainingSection::learning_rate, "Peak learning rate",
            {.range = above(0)}),
      field("training", "weight_decay", &R::training, &TrainingSection::weight_decay,
            "Decoupled weight decay (AdamW) / L2 (SGD)", {.range = at_least(0)}),
      field("training", "adam_beta1", &R::training, &TrainingSection::adam_beta1, "AdamW beta1",
            {.range = fraction_below_one()}),
      field("training", "adam_beta2", &R::training, &TrainingSection::adam_beta2, "AdamW beta2",
            {.range = fraction_below_one()}),
      field("training", "adam_epsilon", &R::training, &TrainingSection::adam_epsilon, "AdamW epsilon",
            {.range = above(0)}),
      field("training", "sgd_momentum", &R::training, &TrainingSection::sgd_momentum, "SGD momentum",
            {.range = fraction_below_one()}),
      field("training", "max_grad_norm", &R::training, &TrainingSection::max_grad_norm,
            "Clip the global gradient norm to this; 0 disables clipping", {.range = at_least(0)}),
      field("training", "lr_scheduler", &R::training, &TrainingSection::lr_scheduler,
            "Decay after the linear warmup", {.choices = {"cosine", "linear", "constant"}}),
      field("training", "warmup_steps", &R::training, &TrainingSection::warmup_steps,
            "Optimizer steps of linear warmup from 0", {.range = at_least(0)}),
      field("training", "warmup_ratio", &R::training, &TrainingSection::warmup_ratio,
            "When > 0: warmup = ceil(ratio x total steps), overriding warmup_steps",
            {.range = fraction_below_one()}),
      field("training", "min_lr_ratio", &R::training, &TrainingSection::min_lr_ratio,
            "The decay ends at min_lr_ratio x learning_rate", {.range = between(0, 1)}),
      field("training", "label_smoothing", &R::training, &TrainingSection::label_smoothing,
            "Label smoothing of the cross-entropy", {.range = fraction_below_one()}),
      field("training", "gradient_checkpointing", &R::training, &TrainingSection::gradient_checkpointing,
            "Recompute layer activations in the backward pass (less memory, about 30 % slower)"),
      field("training", "seed", &R::training, &TrainingSection::seed,
            "Seed of LoRA init, dropout and shuffling (seed + epoch)", {.range = at_least(0)}),
      field("training", "logging_steps", &R::training, &TrainingSection::logging_steps,
            "Log metrics every N optimizer steps", {.range = at_least(1)}),
      field("training", "eval_steps", &R::training, &TrainingSection::eval_steps,
            "Evaluate every N optimizer steps; 0: at the end of each epoch only", {.range = at_least(0)}),
      field("training", "save_steps", &R::training, &TrainingSection::save_steps,
            "Save a checkpoint every N optimizer steps; 0: at the end of each epoch only",
            {.range = at_least(0)}),
      field("training", "objective", &R::training, &TrainingSection::objective,
            "What is minimised: sft (cross-entropy on the trained tokens) or kto (KTO on desirable and "
            "undesirable examples; needs data.labels all and batch_size >= 2, see the kto section)",
            {.choices = {"sft", "kto"}}),
      field("training", "init_adapter", &R::training, &TrainingSection::init_adapter,
            "Start from this adapter (a PEFT or mlx-lm directory, e.g. an SFT run's adapter) instead of a "
            "fresh LoRA; --init-adapter overrides it",
            {.nullable = true, .path = true}),
  };
}

// The rows of the `kto:` section (training.objective kto).
std::vector<FieldSpec> kto_rows() {
  using R = Recipe;
  return {
      field("kto", "beta", &R::kto, &KtoSection::beta,
            "KTO beta: how far the policy may move from the reference (TRL's default 0.1)",
            {.range = above(0)}),
      field("kto", "desirable_weight", &R::kto, &KtoSection::desirable_weight,
            "Weight of the desirable examples' loss; keep desirable_weight x n_desirable / "
            "(undesirable_weight x n_undesirable) in [1, 4/3]",
            {.range = above(0)}),
      field("kto", "undesirable_weight", &R::kto, &KtoSection::undesirable_weight,
            "Weight of the undesirable examples' loss", {.range = above(0)}),
      field("kto", "reference", &R::kto, &KtoSection::reference,
            "The reference model: base (the base without adapters, TRL's default with PEFT), init_adapter "
            "(the base with training.init_adapter frozen, the SFT model; TRL's ref_adapter_name), auto "
            "(init_adapter when training starts from one, else base). Both share the base's weights",
            {.choices = {"auto", "base", "init_adapter"}}),
  };
}

// The rows of the `output:` section.
std::vector<FieldSpec> output_rows() {
  using R = Recipe;
  return {
      field("output", "output_dir", &R::output, &OutputSection::output_dir,
            "Run directory: checkpoints, adapters, logs, metrics, plots, report",
            {.required = true, .path = true}),
      field("output", "overwrite_output_dir", &R::output, &OutputSection::overwrite_output_dir,
            "Start afresh in a non-empty output_dir (otherwise it is an error unless resuming)"),
      field("output", "save_total_limit", &R::output, &OutputSection::save_total_limit,
            "Checkpoints kept besides the best; 0: keep all", {.range = at_least(0)}),
      field("output", "save_best", &R::output, &OutputSection::save_best,
            "Keep the checkpoint with the lowest validation loss too"),
      field("output", "export", &R::output, &OutputSection::export_formats,
            "What final_model/ receives: peft/ and mlx/ adapters, fused/ (HF directory), model.gguf (f16, "
            "adapter merged), adapter.gguf (llama.cpp LoRA); GGUFs with an Ollama Modelfile",
            {.choices = {"peft", "mlx", "fused", "gguf", "gguf-lora"}, .required = true}),
  };
}

// The rows of the `logging:` section.
std::vector<FieldSpec> logging_rows() {
  using R = Recipe;
  return {
      field("logging", "level", &R::logging, &LoggingSection::level, "Console and log file level",
            {.choices = {"trace", "debug", "info", "warn", "error"}}),
      field("logging", "log_file", &R::logging, &LoggingSection::log_file,
            "Log file name inside output_dir; null: none", {.nullable = true}),
      field("logging", "jsonl", &R::logging, &LoggingSection::jsonl,
            "Metrics file (JSON lines) inside output_dir", {.required = true}),
      field("logging", "progress", &R::logging, &LoggingSection::progress,
            "Progress display (auto: a bar on a terminal, plain lines otherwise)",
            {.choices = {"auto", "bar", "plain", "none"}}),
      field("logging", "plots", &R::logging, &LoggingSection::plots,
            "Plot loss, learning rate, gradient norm and memory (needs gnuplot; skipped without it)"),
      field("logging", "plot_format", &R::logging, &LoggingSection::plot_format, "Plot file format",
            {.choices = {"png", "svg"}}),
      field("logging", "plots_per_epoch", &R::logging, &LoggingSection::plots_per_epoch,
            "Plot refreshes per epoch; 0: only at the end", {.range = at_least(0)}),
      field("logging", "tensorboard", &R::logging, &LoggingSection::tensorboard,
            "Also write every metric as TensorBoard event files in output_dir/tensorboard/ (--tensorboard)"),
  };
}

// The rows of the `system:` section.
std::vector<FieldSpec> system_rows() {
  using R = Recipe;
  return {
      field("system", "device", &R::system, &SystemSection::device,
            "Where training runs (--device wins): auto = the GPU when this build's MLX has one (CUDA or "
            "Metal) and finds a GPU, else the CPU; gpu on a CPU-only build is an error",
            {.choices = device_choices()}),
      field("system", "threads", &R::system, &SystemSection::threads,
            "CPU threads for BLAS during training (the --threads flag wins); 0: all cores",
            {.range = at_least(0)}),
      field("system", "memory_limit_gb", &R::system, &SystemSection::memory_limit_gb,
            "MLX's memory limit in GB, also the budget of the memory check; 0: the machine's memory",
            {.range = at_least(0)}),
      field("system", "force", &R::system, &SystemSection::force,
            "Start even when the memory estimate exceeds the budget"),
      field("system", "distributed", &R::system, &SystemSection::distributed,
            "Data-parallel training: auto joins the group when launched by mlx.launch (ring), mpirun or the "
            "NCCL launcher; off always trains in one process",
            {.choices = {"auto", "off"}}),
      field("system", "distributed_timeout_s", &R::system, &SystemSection::distributed_timeout_s,
            "Seconds a rank waits in a gradient exchange before it ends the run with an error (a peer is "
            "lost or stuck)",
            {.range = at_least(1)}),
  };
}

// The rows of the `evaluation:` section.
std::vector<FieldSpec> evaluation_rows() {
  using R = Recipe;
  return {
      field("evaluation", "eval_batch_size", &R::evaluation, &EvaluationSection::eval_batch_size,
            "Examples per evaluation batch", {.range = at_least(1)}),
      field("evaluation", "early_stopping_patience", &R::evaluation,
            &EvaluationSection::early_stopping_patience,
            "Stop after this many evaluations without improvement; 0: off", {.range = at_least(0)}),
      field("evaluation", "early_stopping_threshold", &R::evaluation,
            &EvaluationSection::early_stopping_threshold,
            "Minimal decrease of the validation loss that counts as improvement", {.range = at_least(0)}),
      field("evaluation", "generate_samples", &R::evaluation, &EvaluationSection::generate_samples,
            "Generate sample answers to validation prompts at each evaluation"),
      field("evaluation", "num_samples", &R::evaluation, &EvaluationSection::num_samples,
            "Sample answers per evaluation", {.range = at_least(0)}),
      field("evaluation", "temperature", &R::evaluation, &EvaluationSection::temperature,
            "Sampling temperature; 0: greedy", {.range = between(0, 10)}),
      field("evaluation", "top_p", &R::evaluation, &EvaluationSection::top_p, "Nucleus sampling mass",
            {.range = Range{.low = 0, .high = 1, .low_open = true}}),
      field("evaluation", "max_new_tokens", &R::evaluation, &EvaluationSection::max_new_tokens,
            "Tokens generated per sample", {.range = at_least(1)}),
      field("evaluation", "tool_calls", &R::evaluation, &EvaluationSection::tool_calls,
            "At each evaluation (and step 0), generate every assistant turn of the first validation "
            "conversations greedily and score its tool calls (eval/tool_* in metrics.jsonl)"),
      field("evaluation", "tool_call_examples", &R::evaluation, &EvaluationSection::tool_call_examples,
            "Validation conversations the tool-call metrics use (the first N; 0: all)",
            {.range = at_least(0)}),
      field("evaluation", "tool_call_max_new_tokens", &R::evaluation,
            &EvaluationSection::tool_call_max_new_tokens,
            "Tokens generated per assistant turn for the tool-call metrics", {.range = at_least(1)}),
      field("evaluation", "ignore_argument_keys", &R::evaluation, &EvaluationSection::ignore_argument_keys,
            "Argument keys the tool-call scores skip (volatile values such as the seed data's context)"),
  };
}

// The rows of the `advanced:` section.
std::vector<FieldSpec> advanced_rows() {
  using R = Recipe;
  return {
      field("advanced", "max_consecutive_nan", &R::advanced, &AdvancedSection::max_consecutive_nan,
            "Non-finite steps in a row (skipped) before the run stops", {.range = at_least(1)}),
      field("advanced", "loss_rise_warning", &R::advanced, &AdvancedSection::loss_rise_warning,
            "Warn when the loss grows by this factor over 10 logged steps", {.range = above(1)}),
      field("advanced", "grad_norm_warning_high", &R::advanced, &AdvancedSection::grad_norm_warning_high,
            "Warn when the gradient norm is above this", {.range = above(0)}),
      field("advanced", "grad_norm_warning_low", &R::advanced, &AdvancedSection::grad_norm_warning_low,
            "Warn when the gradient norm is below this", {.range = at_least(0)}),
      field("advanced", "memory_warning_fraction", &R::advanced, &AdvancedSection::memory_warning_fraction,
            "Warn when memory use passes this fraction of the budget",
            {.range = Range{.low = 0, .high = 1, .low_open = true}}),
  };
}

std::vector<FieldSpec> build_schema() {
  std::vector<FieldSpec> rows;
  for (auto* section : {&model_rows, &lora_rows, &data_rows, &training_rows, &kto_rows, &output_rows,
                        &logging_rows, &system_rows, &evaluation_rows, &advanced_rows}) {
    for (auto& row : section()) rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace

bool Range::contains(double v) const {
  if (!std::isfinite(v)) return false;
  if (low_open ? v <= low : v < low) return false;
  if (high_open ? v >= high : v > high) return false;
  return true;
}

std::string Range::describe() const {
  const bool has_low = std::isfinite(low);
  const bool has_high = std::isfinite(high);
  const std::string lo = fmt::format("{} {}", low_open ? ">" : ">=", low);
  const std::string hi = fmt::format("{} {}", high_open ? "<" : "<=", high);
  if (has_low && has_high) {
    if (!low_open && !high_open) return fmt::format("{} to {}", low, high);
    return lo + " and " + hi;
  }
  if (has_low) return lo;
  if (has_high) return hi;
  return "";
}

std::string FieldSpec::allowed() const {
  if (!constraint.choices.empty()) {
    const std::string words = list_words(constraint.choices);
    return type == "list of strings" ? "each of: " + words : words;
  }
  const std::string range = constraint.range.describe();
  return (type.rfind("list", 0) == 0 && !range.empty()) ? "each " + range : range;
}

const std::vector<std::string>& recipe_sections() {
  static const std::vector<std::string> sections = {"model",  "lora",    "data",   "training",   "kto",
                                                    "output", "logging", "system", "evaluation", "advanced"};
  return sections;
}

const std::vector<FieldSpec>& recipe_schema() {
  static const std::vector<FieldSpec> schema = build_schema();
  return schema;
}

const FieldSpec* find_field(const std::string& section, const std::string& key) {
  for (const auto& f : recipe_schema()) {
    if (f.section == section && f.key == key) return &f;
  }
  return nullptr;
}

std::string yaml_inline(const YAML::Node& node) {
  if (node.IsNull()) return "null";
  if (node.IsScalar()) return node.Scalar();
  YAML::Emitter out;
  out << YAML::Flow << node;
  return out.c_str();
}

}  // namespace mlxft
