// LoRA training throughput of a preset model built in memory (random weights, no files), or of a real
// model loaded as `mlxft train` loads it.
//
//   train_bench --preset tiny|small|mistral-7b-shape --seq N --batch B [--steps S] [--rank R]
//               [--model PATH|shipped:NAME] [--targets q_proj,v_proj|all]
//               [--dtype float32|bfloat16] [--compute-dtype float32|bfloat16] [--checkpointing]
//               [--peak-gflops G] [--bits 4|8 [--group 32|64|128]] [--warmup W] [--layers L]
//               [--pack-weights auto|always|never] [--kind lora|dora] [--device auto|cpu|gpu]
//
// Runs W warm-up steps (default 1), then S optimizer steps of one micro-batch [B, N] of random tokens
// (LoRA, or DoRA with --kind dora, on the --targets of every layer: q_proj and v_proj unless told, `all`
// = every projection the model's family has; AdamW), and prints trained tokens/s, seconds per optimizer
// step, the process's CPU seconds (user + system, every thread) per step, peak memory of the
// training (mx::get_peak_memory and the process's resident high-water mark VmHWM, both reset once
// the base is built; the base stays in memory, so both include it), mlxft's memory estimate (model/memory.h,
// what `mlxft train` prints before training) and model FLOPs utilisation against the peak of the compute
// dtype's instructions measured on this machine (bench/peak_flops.h: AVX512-BF16 dot products for bf16,
// AVX-512 FMA for float32; --peak-gflops gives one instead). --compute-dtype defaults to auto, as
// model.compute_dtype does (bf16 where bf16 matmuls are fast), so the defaults are the product's. CPU seconds per step hardly change when other
// processes share the cores, wall seconds do; threads spinning while they wait count in both.
// --bits quantizes the base (embedding, projections, head) as `model.quantize` does, module by module
// while the random weights are drawn: no more than one float matrix exists at a time, so a 4-bit
// mistral-7b-shape base is built in ~4 GB without ever holding its 29 GB of float32 weights. Drawing
// and quantizing 7 B normal values takes ~15 minutes on 2 cores, so each distinct matrix shape is drawn
// and quantized once and every further module of that shape gets its own copy of that triplet (its
// own buffers: memory and time are those of a model with distinct weights; the values repeat).
// --layers overrides the preset's layer count: a quick proxy when studying memory by parts.
// --compute-dtype is model.compute_dtype (the CPU kernels' matmul dtype; default auto, as the product). The
// environment variable MLXFT_KERNELS=0 runs MLX's own ops instead of the CPU kernels (the "before").
// --device is system.device (auto: the GPU when the build's MLX has one); on a GPU the peak memory
// (MLX) is the GPU's.
// --kind is lora.kind (dora: the magnitudes start at the base's row norms, dequantized when quantized).
// --model PATH replaces the preset with a model on disk (an HF or MLX-quantized directory, a .gguf file or
// `shipped:NAME`), loaded through the library exactly as `mlxft train` loads a recipe's model.path
// (app/inputs.h load_base_model, build_adapters): quantized modules of a GGUF or MLX-quantized base stay
// quantized and are dequantized per call (QLoRA); float weights load in --dtype (default auto: float32 on
// the CPU), compute dtype as --compute-dtype. --preset does not apply then; --bits and --layers are refused.
// --pack-weights is model.pack_weights, decided as `mlxft train` decides it (auto: when the estimate with
// the packed projections stays under 90 % of the machine's memory, the default warning fraction).
// Model FLOPs per trained token, LoRA (no weight gradients of the frozen weights, so their backward pass
// costs one forward, not two):  4 * N_matmul + 6 * N_lora + 12 * L * N * (heads * head_dim)
// where N_matmul counts every frozen weight used in a matmul (attention, MLP, LM head; not the embedding
// lookup or the norms), N_lora = the LoRA matrices' entries, rank * (in + out) per adapted module (forward,
// input gradient and weight gradients: 2 + 2 + 2), and the last term is attention's QK^T and AV (forward 4,
// backward 8 per layer, position and head dimension; causal masking not discounted). Recomputation under
// --checkpointing is not counted (model FLOPs, not hardware FLOPs). The same count for the same model and
// shape holds for every peer (bench/peers/run_peers.py reuses the printed GFLOP / token).
// MFU is printed twice: against the measured peak of the compute dtype's instructions (AVX512-BF16 dot
// products for bf16 compute, AVX-512 FMA for float32) and against the machine's bf16 peak (the same
// number for bf16 compute): the second is the one figure that compares every run and peer.
#include <fmt/format.h>
#include <mlx/mlx.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "mlxft/app/inputs.h"
#include "mlxft/app/settings.h"
#include "mlxft/config/recipe.h"
#include "mlxft/kernels/switches.h"
#include "mlxft/model/adapted_linear.h"
#include "mlxft/model/init.h"
#include "mlxft/model/llama.h"
#include "mlxft/model/family.h"
#include "mlxft/model/lora.h"
#include "mlxft/model/memory.h"
#include "mlxft/model/quant.h"
#include "mlxft/model/weights.h"
#include "mlxft/objective/sft.h"
#include "mlxft/train/optimizer.h"
#include "mlxft/train/step.h"
#include "mlxft/util/blas.h"
#include "mlxft/util/device.h"
#include "peak_flops.h"

namespace mx = mlx::core;

namespace {

// User + system CPU seconds of this process so far, every thread included.
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_usec);
  };
  return s(u.ru_utime) + s(u.ru_stime);
}

// The resident-set high-water mark of this process (VmHWM in /proc/self/status), bytes; 0 if unknown.
double resident_high_water_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmHWM:")) return std::stod(line.substr(6)) * 1024.0;  // "VmHWM:  1234 kB"
  }
  return 0.0;
}

// Starts VmHWM afresh at the current resident size (Linux: clear_refs 5); no effect elsewhere.
void reset_resident_high_water() {
  std::ofstream("/proc/self/clear_refs") << "5";
}

// A copy of evaluated, contiguous `a` in a buffer of its own (mx::copy may share the buffer).
mx::array own_copy(const mx::array& a) {
  mx::array out(mx::allocator::malloc(a.nbytes()), a.shape(), a.dtype());
  std::memcpy(out.data<uint8_t>(), a.data<uint8_t>(), a.nbytes());
  return out;
}

// The random base with every quantizable module quantized (see the header comment): one draw per shape,
// in bfloat16 as mlx-community quantizes bf16 checkpoints (so scales and biases are bfloat16, as a
// real 4-bit base loaded by mlxft keeps them); the norms stay in model.dtype.
mlxft::QuantMap quantize_random_base(mlxft::Model& model, const mlxft::QuantSpec& spec) {
  const auto bf16 = mlxft::random_weights(model.config, 0, mx::bfloat16);  // lazy: drawn when quantized
  std::map<std::vector<int>, std::vector<mx::array>> drawn;  // [out, in] -> the triplet quantized once
  mlxft::QuantMap done;
  for (const std::string& module : mlxft::quantizable_modules(model.config)) {
    const mx::array& w = bf16.at(module + ".weight");
    const std::vector<int> shape(w.shape().begin(), w.shape().end());
    auto it = drawn.find(shape);
    std::vector<mx::array> t;
    if (it == drawn.end()) {
      t = mx::quantize(w, spec.group_size, spec.bits);
      drawn.emplace(shape, t);
    } else {
      for (const mx::array& a : it->second) t.push_back(own_copy(a));
    }
    mx::eval(t);
    model.weights.insert_or_assign(module + ".weight", t[0]);
    model.weights.insert_or_assign(module + ".scales", t[1]);
    model.weights.insert_or_assign(module + ".biases", t[2]);
    done[module] = spec;
  }
  return done;
}

// "float", or the quantized modules' specs and counts ("4-bit group 32 x210, 8-bit group 32 x1 of 211
// modules": a GGUF may mix types).
std::string base_description(const mlxft::Model& model) {
  if (model.quantization.empty()) return "float";
  std::map<std::string, int> specs;
  for (const auto& [module, spec] : model.quantization)
    ++specs[fmt::format("{}-bit group {}", spec.bits, spec.group_size)];
  std::string out;
  for (const auto& [what, count] : specs) out += fmt::format("{}{} x{}", out.empty() ? "" : ", ", what, count);
  return out + fmt::format(" of {} modules", mlxft::quantizable_modules(model.config).size());
}

}  // namespace

int main(int argc, char** argv) {
  mlxft::fix_cpu_runtime_env(argv);
  mlxft::raise_cpu_buffer_cache();  // as `mlxft train` does (app/settings.h)
  CLI::App app{"LoRA training throughput on a preset model or a model on disk"};
  std::string preset = "tiny", dtype_name, compute_name = "auto", pack_choice = "auto", kind = "lora";
  std::string model_path, targets_arg = "q_proj,v_proj";
  int seq = 512, batch = 2, steps = 3, rank = 16, threads = 0, bits = 0, group = 64, warmup = 1, layers = 0;
  bool checkpointing = false;
  double peak_gflops = 0.0;
  app.add_option("--preset", preset, "tiny | small | mistral-7b-shape");
  app.add_option("--seq", seq, "sequence length (tokens per row)");
  app.add_option("--batch", batch, "rows per step");
  app.add_option("--steps", steps, "timed optimizer steps");
  app.add_option("--rank", rank, "LoRA rank");
  app.add_option("--model", model_path,
                 "a model on disk instead of the preset: HF or MLX-quantized directory, .gguf or shipped:NAME");
  app.add_option("--targets", targets_arg, "LoRA targets: comma-separated projections, or all (the model's own)");
  app.add_option("--dtype", dtype_name,
                 "base weights: float32 | bfloat16 (default: float32 for a preset, auto (model.dtype) for --model)");
  app.add_option("--compute-dtype", compute_name,
                 "frozen matmuls on the CPU kernels: auto (as model.compute_dtype) | float32 | bfloat16");
  app.add_option("--threads", threads, "BLAS threads (0 = all cores)");
  app.add_flag("--checkpointing", checkpointing, "per-layer gradient checkpointing");
  app.add_option("--peak-gflops", peak_gflops, "peak GFLOP/s for MFU (0: measured, bench/peak_flops.h)");
  app.add_option("--bits", bits, "quantize the base: 4 | 8 (0 = float)");
  app.add_option("--group", group, "quantization group size: 32 | 64 | 128");
  app.add_option("--warmup", warmup, "untimed steps before the timed ones");
  app.add_option("--layers", layers,
                 "override the preset's layer count (0 = as the preset; a quick memory proxy)");
  app.add_option("--pack-weights", pack_choice, "projections in oneDNN's layouts too: auto | always | never")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  app.add_option("--kind", kind, "adapter kind: lora | dora")->check(CLI::IsMember({"lora", "dora"}));
  std::string device = "auto";
  app.add_option("--device", device, "auto | cpu | gpu, as system.device (util/device.h)")
      ->check(CLI::IsMember(mlxft::device_choices()));
  CLI11_PARSE(app, argc, argv);
  mlxft::set_blas_threads(threads);
  fmt::print("device: {}\n", mlxft::describe_device(mlxft::use_device(device, "--device")));

  if (!model_path.empty() && (bits > 0 || layers > 0)) {
    fmt::print(stderr, "train_bench: --bits and --layers change a preset; with --model the model is trained as it "
                       "is stored (quantize it with `mlxft model quantize` first)\n");
    return 2;
  }
  std::vector<std::string> targets;
  const bool all_targets = targets_arg == "all";  // the model's own projections, once its config is known
  if (!all_targets) {
    for (size_t at = 0; at <= targets_arg.size();) {
      const size_t comma = std::min(targets_arg.find(',', at), targets_arg.size());
      targets.push_back(targets_arg.substr(at, comma - at));
      at = comma + 1;
    }
    for (const std::string& t : targets) {
      if (std::find(mlxft::lora_target_names().begin(), mlxft::lora_target_names().end(), t) ==
          mlxft::lora_target_names().end()) {
        fmt::print(stderr, "train_bench: --targets: unknown projection '{}' (use q_proj, k_proj, v_proj, o_proj, "
                           "gate_proj, up_proj, down_proj, or all)\n", t);
        return 2;
      }
    }
  }

  mlxft::Model model;
  double build_s = 0.0;
  std::optional<mlxft::LoraAdapters> built_adapters;
  if (!model_path.empty()) {
    // As `mlxft train` does with a recipe (app/run.cpp run_training: load_base_model, build_adapters).
    mlxft::Recipe recipe;
    recipe.model.path = model_path;
    recipe.model.dtype = dtype_name.empty() ? "auto" : dtype_name;
    recipe.model.compute_dtype = compute_name;
    recipe.lora.kind = kind;
    recipe.lora.rank = rank;
    recipe.lora.alpha = 2.0 * rank;
    recipe.lora.dropout = 0.0;  // as the peers (bench/peers/shape.py)
    recipe.lora.target_modules = targets;
    recipe.training.seed = 0;
    const auto built0 = std::chrono::steady_clock::now();
    try {
      model = mlxft::load_base_model(recipe);
      if (all_targets) recipe.lora.target_modules = targets = mlxft::family_lora_targets(model.config);
      built_adapters = mlxft::build_adapters(recipe, model, "");
    } catch (const std::exception& e) {
      fmt::print(stderr, "train_bench: --model {}: {}\n", model_path, e.what());
      return 1;
    }
    build_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - built0).count();
    dtype_name = mlxft::dtype_name(model.dtype);
    preset = model_path;
  } else {
    if (dtype_name.empty()) dtype_name = "float32";
    model.config = mlxft::preset_config(preset, 32768);
    if (layers > 0) model.config.num_hidden_layers = layers;
    if (all_targets) targets = mlxft::family_lora_targets(model.config);
    model.dtype = dtype_name == "bfloat16" ? mx::bfloat16 : mx::float32;
    model.compute_dtype = mlxft::resolve_compute_dtype(compute_name);
    model.weights = mlxft::random_weights(model.config, 0, model.dtype);  // lazy: drawn when evaluated
    const auto built0 = std::chrono::steady_clock::now();
    if (bits > 0) model.quantization = quantize_random_base(model, {bits, group});
    for (auto& [name, w] : model.weights) mx::eval(w);
    build_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - built0).count();
  }
  const double weight_bytes = static_cast<double>(mx::get_active_memory());
  if (!built_adapters) {
    mlxft::LoraConfig lc;
    lc.rank = rank;
    lc.alpha = 2.0f * static_cast<float>(rank);
    lc.kind = *mlxft::adapter_kind_named(kind);
    lc.targets = targets;
    built_adapters = mlxft::init_lora(model.config, lc, 0, [&](const std::string& module) {
      const auto q = model.quantization.find(module);
      if (q == model.quantization.end()) return mx::astype(model.weight(module + ".weight"), mx::float32);
      return mlxft::dequantize_module(model.weights, module, q->second, mx::float32);
    });
  }
  mlxft::LoraAdapters adapters = std::move(*built_adapters);
  std::vector<mx::array> params = adapters.flatten();
  auto optimizer = mlxft::make_optimizer({"adamw", 0.01});

  mlxft::Batch b;
  const mx::array ids =
      mx::random::randint(3, model.config.vocab_size, {batch, seq + 1}, mx::int32, mx::random::key(1));
  b.inputs = mx::slice(ids, {0, 0}, {batch, seq});
  b.targets = mx::slice(ids, {0, 1}, {batch, seq + 1});
  b.mask = mx::ones({batch, seq});
  mx::eval(b.inputs, b.targets, b.mask);
  const mlxft::SftObjective objective(model, adapters, {.checkpoint_layers = checkpointing});
  const mlxft::MicroBatchLoss loss = mlxft::micro_batch_loss(objective);
  auto one_step = [&](int64_t step) {
    auto g = mlxft::accumulate_gradients(loss, params, {b}, {mlxft::dropout_key(0, step, 0)});
    mlxft::apply_update(params, *optimizer, g, 1e-4, 1.0);
    return g.loss;
  };

  // As choose_weight_packing() (app/settings.h) decides for `mlxft train`.
  model.pack_weights = mlxft::projections_can_be_packed(model);  // the estimate counts the packed copies
  if (model.pack_weights) {
    const double with =
        mlxft::estimate_training_memory(model.config, static_cast<int>(mx::size_of(model.dtype)),
                                        adapters.parameter_count(), batch, seq, checkpointing,
                                        mlxft::quantized_base(model), mlxft::kernel_paths(model))
            .total();
    model.pack_weights = mlxft::pack_weights_for_run(pack_choice, with, mlxft::machine_memory_bytes(), 0.9);
  }
  const mlxft::MemoryEstimate estimate = mlxft::estimate_training_memory(
      model.config, static_cast<int>(mx::size_of(model.dtype)), adapters.parameter_count(), batch, seq,
      checkpointing, mlxft::quantized_base(model), mlxft::kernel_paths(model));
  fmt::print("built the base in {:.1f} s: {:.3f} GB held\n", build_s, weight_bytes / 1e9);
  fmt::print(
      "estimated peak:        {:.3f} GB = weights {:.3f} + adapters/grads/optimizer {:.3f} + activations "
      "{:.3f} + runtime {:.3f} (not in MLX's peak)\n",
      estimate.total() / 1e9, estimate.weights / 1e9, estimate.adapter_state / 1e9,
      estimate.activations / 1e9, estimate.runtime / 1e9);
  std::fflush(stdout);

  // The peaks below are the training's: the base's construction (random draws, quantization) is not.
  mx::reset_peak_memory();
  reset_resident_high_water();
  for (int s = 0; s < warmup; ++s) one_step(1000 + s);  // untimed; another step number than the timed ones
  const auto t0 = std::chrono::steady_clock::now();
  const double cpu0 = cpu_seconds();
  double last_loss = 0;
  for (int s = 1; s <= steps; ++s) last_loss = one_step(s);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu_step_s = (cpu_seconds() - cpu0) / steps;

  const auto& c = model.config;
  const double matmul_params =  // the projections and the head (tied or not)
      static_cast<double>(c.projection_parameter_count()) + static_cast<double>(c.vocab_size) * c.hidden_size;
  const double attn =
      12.0 * c.num_hidden_layers * seq * static_cast<double>(c.num_attention_heads) * c.head_dim;
  double lora_params = 0.0;  // rank * (in + out) of every adapted module
  for (const std::string& t : targets) {
    const auto [in, out] = mlxft::lora_projection_shape(c, t);
    lora_params += static_cast<double>(c.num_hidden_layers) * rank * (in + out);
  }
  const double flops_per_token = 4.0 * matmul_params + 6.0 * lora_params + attn;
  const double tokens = static_cast<double>(batch) * seq;
  const double step_s = seconds / steps;
  const double achieved = flops_per_token * tokens / step_s / 1e9;
  fmt::print(
      "{} {} ({} params, {} trainable), dtype {}, base {}, compute {}, seq {}, batch {}, rank {} on {}, "
      "checkpointing {}, packed projections {}, {} warm-up + {} timed steps\n",
      model_path.empty() ? "preset" : "model", preset, c.parameter_count(), adapters.parameter_count(), dtype_name,
      base_description(model), 
      mlxft::kernels::cpu_kernels_run_on(mlxft::kernels::default_stream())
          ? "kernels " + mlxft::dtype_name(model.kernel_dtype())
          : std::string("mlx"),
      seq, batch, rank, targets_arg, checkpointing ? "on" : "off", model.pack_weights ? "yes" : "no", warmup, steps);
  fmt::print("{}\n", mlxft::blas_description());
  fmt::print("loss {:.4f}\n", last_loss);
  fmt::print("trained tokens/s:      {:.1f}\n", tokens / step_s);
  fmt::print("seconds / step:        {:.3f}\n", step_s);
  fmt::print("CPU seconds / step:    {:.3f}\n", cpu_step_s);
  const double peak = static_cast<double>(mx::get_peak_memory());
  fmt::print("peak memory (MLX):     {:.3f} GB (base as built {:.3f} GB)\n", peak / 1e9, weight_bytes / 1e9);
  fmt::print("peak resident (VmHWM): {:.3f} GB\n", resident_high_water_bytes() / 1e9);
  fmt::print("estimate / MLX peak:   {:.3f}\n", estimate.total() / peak);
  fmt::print("model GFLOP / token:   {:.3f} (4 N_matmul + 6 N_lora + 12 L T d_attn; N_matmul {:.1f} M, N_lora {:.2f} M)\n",
             flops_per_token / 1e9, matmul_params / 1e6, lora_params / 1e6);
  fmt::print("achieved GFLOP/s:      {:.1f}\n", achieved);
  // MFU against the peak of the compute dtype's instructions, measured on this machine's threads, and
  // against the machine's bf16 peak (the same measurement where the compute dtype is bf16).
  const bool bf16 = model.kernel_dtype() == mx::bfloat16;
  const int n = threads > 0 ? threads : static_cast<int>(std::thread::hardware_concurrency());
  std::string peak_what = "--peak-gflops";
  if (peak_gflops <= 0.0) {
    peak_gflops = mlxft::bench::measure_peak_gflops(
        bf16 ? mlxft::bench::PeakKind::kBf16 : mlxft::bench::PeakKind::kFp32, n);
    peak_what = fmt::format("the measured {} peak, {} threads", bf16 ? "AVX512-BF16 dot" : "fp32 AVX-512 FMA", n);
  }
  if (peak_gflops > 0.0) {
    fmt::print("MFU:                   {:.1f} % of {:.0f} GFLOP/s ({})\n", 100.0 * achieved / peak_gflops,
               peak_gflops, peak_what);
  } else {
    fmt::print("MFU:                   no peak (this CPU lacks the instructions; pass --peak-gflops)\n");
  }
  const double bf16_peak =
      bf16 ? peak_gflops : mlxft::bench::measure_peak_gflops(mlxft::bench::PeakKind::kBf16, n);
  if (bf16_peak > 0.0) {
    fmt::print("bf16 peak GFLOP/s:     {:.0f} ({}, {} threads)\n", bf16_peak,
               bf16 && peak_what == "--peak-gflops" ? "--peak-gflops" : "measured AVX512-BF16 dot", n);
    fmt::print("MFU of the bf16 peak:  {:.1f} %\n", 100.0 * achieved / bf16_peak);
  } else {
    fmt::print("MFU of the bf16 peak:  no bf16 peak (this CPU lacks AVX512-BF16)\n");
  }
  return 0;
}
