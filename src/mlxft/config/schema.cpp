#include "mlxft/config/schema.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <set>
#include <type_traits>

// The table below uses designated initializers that leave the other members at their defaults on
// purpose; g++ 12 flags that under -Wextra.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace mlxft {
namespace {

// ---- decoding and encoding one C++ type from/to YAML ----------------------------------------

template <class T>
struct Codec;

template <class Int>
std::string decode_integer(const YAML::Node& n, Int& out) {
  if (!n.IsScalar()) return "an integer";
  const std::string& s = n.Scalar();
  int64_t v = 0;
  const char* end = s.data() + s.size();
  const auto [ptr, ec] = std::from_chars(s.data() + (!s.empty() && s[0] == '+' ? 1 : 0), end, v);
  if (ec != std::errc() || ptr != end || s.empty()) return "an integer";
  if (v < std::numeric_limits<Int>::min() || v > std::numeric_limits<Int>::max())
    return "an integer in range";
  out = static_cast<Int>(v);
  return "";
}

template <>
struct Codec<int> {
  static constexpr const char* type = "integer";
  static std::string decode(const YAML::Node& n, bool, int& out) { return decode_integer(n, out); }
  static YAML::Node encode(int v) { return YAML::Node(std::to_string(v)); }
};

template <>
struct Codec<int64_t> {
  static constexpr const char* type = "integer";
  static std::string decode(const YAML::Node& n, bool, int64_t& out) { return decode_integer(n, out); }
  static YAML::Node encode(int64_t v) { return YAML::Node(std::to_string(v)); }
};

template <>
struct Codec<double> {
  static constexpr const char* type = "number";
  static std::string decode(const YAML::Node& n, bool, double& out) {
    if (!n.IsScalar()) return "a number";
    const std::string& s = n.Scalar();
    const char* begin = s.data() + (!s.empty() && s[0] == '+' ? 1 : 0);
    const char* end = s.data() + s.size();
    double v = 0.0;
    const auto [ptr, ec] = std::from_chars(begin, end, v);
    if (ec != std::errc() || ptr != end || s.empty() || !std::isfinite(v)) return "a finite number";
    out = v;
    return "";
  }
  static YAML::Node encode(double v) { return YAML::Node(fmt::format("{}", v)); }
};

template <>
struct Codec<bool> {
  static constexpr const char* type = "boolean";
  static std::string decode(const YAML::Node& n, bool, bool& out) {
    bool v = false;
    if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v)) return "true or false";
    out = v;
    return "";
  }
  static YAML::Node encode(bool v) { return YAML::Node(v ? "true" : "false"); }
};

template <>
struct Codec<std::string> {
  static constexpr const char* type = "string";
  static std::string decode(const YAML::Node& n, bool nullable, std::string& out) {
    if (n.IsNull() && nullable) {
      out.clear();
      return "";
    }
    if (!n.IsScalar()) return nullable ? "a string or null" : "a string";
    out = n.Scalar();
    return "";
  }
  static YAML::Node encode(const std::string& v) {
    return v.empty() ? YAML::Node(YAML::NodeType::Null) : YAML::Node(v);
  }
};

template <>
struct Codec<std::vector<std::string>> {
  static constexpr const char* type = "list of strings";
  static std::string decode(const YAML::Node& n, bool, std::vector<std::string>& out) {
    if (!n.IsSequence()) return "a list of strings, e.g. [a, b]";
    std::vector<std::string> v;
    for (const auto& item : n) {
      if (!item.IsScalar()) return "a list of strings, e.g. [a, b]";
      v.push_back(item.Scalar());
    }
    out = std::move(v);
    return "";
  }
  static YAML::Node encode(const std::vector<std::string>& v) {
    YAML::Node n(YAML::NodeType::Sequence);
    for (const auto& s : v) n.push_back(s);
    n.SetStyle(YAML::EmitterStyle::Flow);
    return n;
  }
};

template <>
struct Codec<std::optional<std::vector<int>>> {
  static constexpr const char* type = "list of integers or null";
  static std::string decode(const YAML::Node& n, bool, std::optional<std::vector<int>>& out) {
    if (n.IsNull()) {
      out.reset();
      return "";
    }
    if (!n.IsSequence()) return "a list of integers (e.g. [0, 1, 2]) or null";
    std::vector<int> v;
    for (const auto& item : n) {
      int x = 0;
      if (!decode_integer(item, x).empty()) return "a list of integers (e.g. [0, 1, 2]) or null";
      v.push_back(x);
    }
    out = std::move(v);
    return "";
  }
  static YAML::Node encode(const std::optional<std::vector<int>>& v) {
    if (!v) return YAML::Node(YAML::NodeType::Null);
    YAML::Node n(YAML::NodeType::Sequence);
    for (int x : *v) n.push_back(std::to_string(x));
    n.SetStyle(YAML::EmitterStyle::Flow);
    return n;
  }
};

// ---- checking a decoded value against its constraint -----------------------------------------

std::string list_words(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + items[i];
  return out;
}

template <class T>
std::vector<std::string> check_value(const T& v, const Constraint& c) {
  std::vector<std::string> errors;
  if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) {
    if (!c.range.contains(static_cast<double>(v))) {
      errors.push_back(fmt::format("is {}, must be {}", Codec<T>::encode(v).Scalar(), c.range.describe()));
    }
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (v.empty()) {
      if (c.required) errors.push_back("is required");
    } else if (!c.choices.empty() && std::find(c.choices.begin(), c.choices.end(), v) == c.choices.end()) {
      errors.push_back(fmt::format("is '{}', must be one of: {}", v, list_words(c.choices)));
    }
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    if (v.empty() && c.required) errors.push_back("must list at least one item");
    std::set<std::string> seen;
    for (const auto& item : v) {
      if (!c.choices.empty() && std::find(c.choices.begin(), c.choices.end(), item) == c.choices.end()) {
        errors.push_back(fmt::format("has '{}', each item must be one of: {}", item, list_words(c.choices)));
      }
      if (!seen.insert(item).second) errors.push_back(fmt::format("lists '{}' twice", item));
    }
  } else if constexpr (std::is_same_v<T, std::optional<std::vector<int>>>) {
    if (v) {
      if (v->empty()) errors.push_back("is an empty list; use null for every layer");
      std::set<int> seen;
      for (int x : *v) {
        if (!c.range.contains(x))
          errors.push_back(fmt::format("has {}, each must be {}", x, c.range.describe()));
        if (!seen.insert(x).second) errors.push_back(fmt::format("lists {} twice", x));
      }
    }
  }
  return errors;
}

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

std::vector<FieldSpec> build_schema() {
  using R = Recipe;
  const std::vector<std::string> targets = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                            "gate_proj", "up_proj", "down_proj"};
  return {
      // model
      field("model", "path", &R::model, &ModelSection::path,
            "Local Hugging Face model directory (config.json, *.safetensors, tokenizer.model)",
            {.required = true, .path = true}),
      field("model", "name", &R::model, &ModelSection::name,
            "Name recorded in metadata and reports (null: the directory's name)", {.nullable = true}),
      field("model", "dtype", &R::model, &ModelSection::dtype,
            "Compute dtype of the base weights (auto: float32 on CPU, bfloat16 on GPU)",
            {.choices = {"auto", "float32", "bfloat16", "float16"}}),
      // lora
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
      // data
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
            {.choices = {"auto", "conversations", "claude", "messages", "text", "prompt_completion"}}),
      field("data", "tool_format", &R::data, &DataSection::tool_format,
            "Tool calls rendered as Mistral [TOOL_CALLS] tokens (native) or kept as plain text",
            {.choices = {"native", "text"}}),
      field("data", "labels", &R::data, &DataSection::labels, "Records used for training, by their label",
            {.choices = {"desirable", "all", "undesirable"}}),
      field("data", "min_examples", &R::data, &DataSection::min_examples,
            "Fewer usable training examples is a fatal data error", {.range = at_least(1)}),
      field("data", "max_bad_fraction", &R::data, &DataSection::max_bad_fraction,
            "A larger fraction of bad lines is a fatal data error", {.range = between(0, 1)}),
      field("data", "max_seq_length", &R::data, &DataSection::max_seq_length, "Maximum tokens per example",
            {.range = between(2, 1 << 20)}),
      field("data", "truncate", &R::data, &DataSection::truncate,
            "Examples over max_seq_length: drop them, or cut them at the end", {.choices = {"drop", "end"}}),
      field("data", "valid_split", &R::data, &DataSection::valid_split,
            "Fraction for validation (with valid_path set, this share trains instead)",
            {.range = fraction_below_one()}),
      field("data", "test_split", &R::data, &DataSection::test_split,
            "Fraction for the test set (with test_path set, this share trains instead)",
            {.range = fraction_below_one()}),
      field("data", "seed", &R::data, &DataSection::seed, "Seed of the split", {.range = at_least(0)}),
      // training
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
      // output
      field("output", "output_dir", &R::output, &OutputSection::output_dir,
            "Run directory: checkpoints, adapters, logs, metrics, plots, report",
            {.required = true, .path = true}),
      field("output", "overwrite_output_dir", &R::output, &OutputSection::overwrite_output_dir,
            "Start afresh in a non-empty output_dir (otherwise it is an error unless resuming)"),
      field("output", "save_total_limit", &R::output, &OutputSection::save_total_limit,
            "Checkpoints kept besides the best; 0: keep all", {.range = at_least(0)}),
      field("output", "save_best", &R::output, &OutputSection::save_best,
            "Keep the checkpoint with the lowest validation loss too"),
      // logging
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
      // system
      field("system", "threads", &R::system, &SystemSection::threads, "CPU threads for BLAS during training (the --threads flag wins); 0: all cores",
            {.range = at_least(0)}),
      field("system", "memory_limit_gb", &R::system, &SystemSection::memory_limit_gb,
            "MLX's memory limit in GB, also the budget of the memory check; 0: the machine's memory", {.range = at_least(0)}),
      field("system", "force", &R::system, &SystemSection::force,
            "Start even when the memory estimate exceeds the budget"),
      // evaluation
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
      // advanced
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
  static const std::vector<std::string> sections = {"model",   "lora",   "data",       "training", "output",
                                                    "logging", "system", "evaluation", "advanced"};
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
