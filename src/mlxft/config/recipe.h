// The training recipe: every setting of a run, as plain structs with the defaults.
//
// Contract: a default-constructed Recipe holds the seed's defaults (LoRA r16 alpha 32 dropout 0.05
// on q_proj/v_proj of every layer; batch 2 x accumulation 4; AdamW 2e-4, betas 0.9/0.999, eps 1e-8,
// weight decay 0.01, clipping 1.0; 100 warmup steps then cosine to 0.1 x lr; 2048 tokens; 3 epochs;
// split 0.9/0.1 stratified, seed 42; log/eval/save every 10/50/100 optimizer steps, keep 3 + best).
// The schema table (schema.h) names every field below with its type, range and help; that one
// table drives YAML parsing, validation, the effective-config writer and docs/config-reference.md.
// Conventions: an empty string means "not set" (written as null in YAML); paths are absolute once
// load_recipe() returns (relative paths in a recipe file are relative to the recipe's directory,
// those from flags or environment to the working directory), except logging.log_file and
// logging.jsonl, which are file names inside output.output_dir. Choice-valued settings are strings
// holding one of the allowed values (validated at load).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mlxft {

struct QuantizeSection {
  int bits = 4;         // 4 | 8
  int group_size = 64;  // 32 | 64 | 128
  bool operator==(const QuantizeSection&) const = default;
};

struct ModelSection {
  std::string path;            // HF or MLX-quantized model directory, or a .gguf file (required)
  std::string name;            // free-form name for metadata and reports ("" = the directory's name)
  std::string dtype = "auto";  // auto | float32 | bfloat16 | float16 (auto: float32 on CPU, bf16 on GPU)
  std::optional<QuantizeSection> quantize;  // quantize the float base at load (QLoRA); null: as stored
  std::string compute_dtype = "auto";       // auto | float32 | bfloat16: the CPU kernels' matmul dtype
  std::string pack_weights = "auto";        // auto | always | never: projections in oneDNN's layouts too
  bool operator==(const ModelSection&) const = default;
};

struct LoraSection {
  std::string kind = "lora";  // lora | dora (adapter_kind_name(), model/adapted_linear.h)
  int rank = 16;
  double alpha = 32.0;
  double dropout = 0.05;
  std::vector<std::string> target_modules = {"q_proj", "v_proj"};
  std::optional<std::vector<int>> layers;  // nullopt = every layer
  bool use_rslora = false;                 // scale = alpha / sqrt(rank) instead of alpha / rank
  bool operator==(const LoraSection&) const = default;
};

struct DataSection {
  std::string dataset_path;     // JSONL training data (required)
  std::string valid_path;       // "" = split valid from dataset_path
  std::string test_path;        // "" = split test from dataset_path (when test_split > 0)
  std::string format = "auto";  // auto | conversations (= claude) | messages | text | prompt_completion
  std::string tool_format = "native";  // native (Mistral [TOOL_CALLS] tokens) | text (as written)
  std::string chat_format = "auto";    // auto (from the model's chat template) | mistral-v3 | chatml
  std::string labels = "desirable";    // which records train: desirable | all | undesirable
  int min_examples = 100;              // fewer usable examples is fatal
  double max_bad_fraction = 0.05;      // more bad lines than this fraction is fatal
  int max_seq_length = 2048;           // tokens per example
  std::string truncate = "drop";       // longer examples: drop | end (cut at the end)
  double valid_split = 0.1;
  double test_split = 0.0;
  int seed = 42;  // split seed (every split keeps the label ratio); shuffling uses training.seed + epoch
  std::string tools = "none";  // tool catalogue for records without tools: none | infer | a JSON file
  int tools_per_prompt = 0;    // > 0: the called tools plus random others, that many in all; 0: all
  bool tools_compact = false;  // nested argument objects by their type alone (data/tool_catalogue.h)
  bool operator==(const DataSection&) const = default;
};

struct TrainingSection {
  std::string optimizer = "adamw";  // adamw | sgd
  int num_epochs = 3;
  int64_t max_steps = -1;  // optimizer steps; -1 or 0 = num_epochs decides
  int batch_size = 2;
  int gradient_accumulation_steps = 4;
  double learning_rate = 2e-4;
  double weight_decay = 0.01;
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double adam_epsilon = 1e-8;
  double sgd_momentum = 0.0;
  double max_grad_norm = 1.0;           // global-norm clipping; 0 disables
  std::string lr_scheduler = "cosine";  // cosine | linear | constant (all after linear warmup)
  int64_t warmup_steps = 100;
  double warmup_ratio = 0.0;  // > 0: warmup = ceil(ratio x total steps), overriding warmup_steps
  double min_lr_ratio = 0.1;  // the schedule ends at min_lr_ratio x learning_rate
  double label_smoothing = 0.0;
  bool gradient_checkpointing = false;
  int seed = 42;  // LoRA init, dropout, shuffling (seed + epoch)
  int64_t logging_steps = 10;
  int64_t eval_steps = 50;        // 0 = evaluate only at the end of each epoch
  int64_t save_steps = 100;       // 0 = save only at the end of each epoch
  std::string objective = "sft";  // sft | kto (objective/kto.h: needs data.labels all, batch_size >= 2)
  std::string init_adapter;       // "" = fresh LoRA; else a PEFT / mlx-lm adapter dir to start from
  bool operator==(const TrainingSection&) const = default;
};

// training.objective kto (objective/kto.h).
struct KtoSection {
  double beta = 0.1;
  double desirable_weight = 1.0;
  double undesirable_weight = 1.0;
  // auto: base + the init adapter (frozen) when training starts from one, else the base alone
  std::string reference = "auto";  // auto | base | init_adapter
  bool operator==(const KtoSection&) const = default;
};

struct OutputSection {
  std::string output_dir = "runs/lora";
  bool overwrite_output_dir = false;
  int save_total_limit = 3;  // checkpoints kept besides the best; 0 = keep all
  bool save_best = true;     // also keep the checkpoint with the lowest validation loss
  // What final_model/ receives at the end (app/finish.h): peft, mlx, fused, gguf, gguf-lora.
  std::vector<std::string> export_formats = {"peft", "mlx"};
  bool operator==(const OutputSection&) const = default;
};

struct LoggingSection {
  std::string level = "info";           // trace | debug | info | warn | error
  std::string log_file = "train.log";   // inside output_dir; "" = no log file
  std::string jsonl = "metrics.jsonl";  // metrics file inside output_dir
  std::string progress = "auto";        // auto | bar | plain | none
  bool plots = true;
  std::string plot_format = "png";  // png | svg
  int plots_per_epoch = 1;          // plot refreshes per epoch; 0 = only at the end
  bool tensorboard = false;         // TensorBoard event files in <output_dir>/tensorboard/
  bool operator==(const LoggingSection&) const = default;
};

struct SystemSection {
  std::string device = "auto";       // auto (the GPU when the build has one) | cpu | gpu: util/device.h
  int threads = 0;                   // CPU threads for BLAS in `mlxft train` (--threads wins); 0 = all cores
  double memory_limit_gb = 0.0;      // mx::set_memory_limit and the memory-check budget; 0 = no cap
  bool force = false;                // start even when the memory estimate does not fit
  std::string distributed = "auto";  // auto: join the group a launcher started | off
  double distributed_timeout_s = 600.0;  // a collective waiting longer ends the run (a lost rank)
  bool operator==(const SystemSection&) const = default;
};

struct EvaluationSection {
  int eval_batch_size = 2;
  int early_stopping_patience = 0;        // evaluations without improvement; 0 = off
  double early_stopping_threshold = 0.0;  // minimal loss decrease that counts as improvement
  bool generate_samples = true;
  int num_samples = 5;
  double temperature = 0.7;  // 0 = greedy
  double top_p = 0.9;
  int max_new_tokens = 100;
  bool tool_calls = false;                        // tool-call metrics (eval/tool_eval.h) at each evaluation
  int tool_call_examples = 0;                     // on the first N validation conversations; 0: all
  int tool_call_max_new_tokens = 256;             // tokens generated per assistant turn
  std::vector<std::string> ignore_argument_keys;  // argument keys the tool-call scores skip
  bool operator==(const EvaluationSection&) const = default;
};

struct AdvancedSection {
  int max_consecutive_nan = 3;           // skipped non-finite steps in a row before the run stops
  double loss_rise_warning = 1.5;        // warn when the loss grows by this factor over 10 logs
  double grad_norm_warning_high = 10.0;  // warn above this gradient norm
  double grad_norm_warning_low = 1e-6;   // warn below this gradient norm
  double memory_warning_fraction = 0.9;  // warn when memory use passes this fraction of the budget
  bool operator==(const AdvancedSection&) const = default;
};

struct Recipe {
  ModelSection model;
  LoraSection lora;
  DataSection data;
  TrainingSection training;
  KtoSection kto;
  OutputSection output;
  LoggingSection logging;
  SystemSection system;
  EvaluationSection evaluation;
  AdvancedSection advanced;
  bool operator==(const Recipe&) const = default;
};

// Warmup steps of a run with `total_steps` optimizer steps: ceil(warmup_ratio * total_steps) when
// warmup_ratio > 0, else warmup_steps. The one copy of the formula (the trainer uses it too).
int64_t warmup_steps_for(int64_t warmup_steps, double warmup_ratio, int64_t total_steps);
int64_t warmup_steps_for(const TrainingSection& training, int64_t total_steps);

}  // namespace mlxft
