#include "mlxft/app/summary.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "mlxft/app/settings.h"
#include "mlxft/config/advice.h"
#include "mlxft/model/weights.h"
#include "mlxft/util/address_space.h"

namespace mlxft {

std::string device_summary_line(const ResolvedDevice& device) {
  return "device:      " + describe_device(device);
}

void print_run_summary(const Recipe& r, const Model& model, const LoraAdapters& adapters, const Split& split,
                       const TrainerSettings& s, const ResolvedDevice& device, int ranks) {
  const MemoryEstimate mem = run_memory_estimate(r, model, adapters, split, s, ranks, kernel_paths(model));
  const double machine = machine_memory_bytes();
  const int64_t total = model.config.parameter_count();
  const int64_t trainable = adapters.parameter_count();
  const double gb = 1e9;
  fmt::print("{}\n", device_summary_line(device));
  fmt::print("model:       {} ({}, {} layers, hidden {}, {})\n",
             r.model.name.empty() ? r.model.path : r.model.name, model.config.model_type,
             model.config.num_hidden_layers, model.config.hidden_size, dtype_name(model.dtype));
  fmt::print("parameters:  {} total, {} trainable ({:.4f} %), {} r{} alpha {} on {}\n", total, trainable,
             100.0 * static_cast<double>(trainable) / static_cast<double>(total + trainable),
             adapters.config.kind == AdapterKind::dora ? "DoRA" : "LoRA", adapters.config.rank, adapters.config.alpha, fmt::join(adapters.config.targets, ","));
  fmt::print("data:        {} train, {} validation, {} test examples\n", split.train.size(),
             split.valid.size(), split.test.size());
  fmt::print(
      "steps:       {} micro-batches of {} per epoch, accumulation {}, {} optimizer steps per epoch, {} in "
      "all\n",
      s.micro_batches_per_epoch(), s.batch_size, s.accumulation_steps, s.steps_per_epoch(), s.total_steps());
  if (ranks > 1) {
    fmt::print(
        "ranks:       {} processes (data parallel), micro-batch {} per rank = {} global; {} examples per "
        "optimizer step\n",
        ranks, s.batch_size / ranks, s.batch_size, s.batch_size * s.accumulation_steps);
  }
  fmt::print(
      "memory:      estimated peak {:.2f} GB = weights {:.2f} + adapters/grads/optimizer {:.3f} + "
      "activations {:.2f} + runtime {:.2f} + buffer cache {:.2f}{}; machine {:.1f} GB\n",
      mem.total() / gb, mem.weights / gb, mem.adapter_state / gb, mem.activations / gb, mem.runtime / gb,
      mem.cache / gb,
      ranks > 1 ? " per rank" : "", machine / gb);
  const double address_space = address_space_budget_bytes();
  if (address_space > 0) {
    fmt::print("             {:.2f} GB left for it under {} (libraries, stacks and buffers take the rest)\n",
               address_space / gb, describe_address_space());
  }
  if (auto warning = check_memory_fit(r, mem.total() / gb, machine / gb, address_space / gb)) {
    spdlog::warn("{}", *warning);
  }
  for (const auto& w : recipe_warnings(r, s.total_steps())) spdlog::warn("{}", w);
}

}  // namespace mlxft
