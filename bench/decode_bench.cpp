// Decoding speed of one sequence and of several together on a real model: `rows` prompts of
// `prompt-tokens` random ids, `new-tokens` greedy tokens each past any EOS, through generate() (one row)
// and generate_each() (the rows decoded together, as eval --tool-calls does). A decode rate is the tokens
// after each row's first over the time after the prompt passes (the run with one new token subtracted).
// Prints one JSON line; asserts nothing.
//   build/bench/decode_bench --model shipped:smollm2-135m-instruct-q4_1 [--rows 8] [--prompt-tokens 512]
//                            [--new-tokens 128] [--threads N]
#include <CLI/CLI.hpp>
#include <mlx/mlx.h>

#include <chrono>
#include <cstdio>
#include <random>

#include "mlxft/eval/generate.h"
#include "mlxft/kernels/parallel.h"
#include "mlxft/model/decode_step.h"

namespace {

double seconds(const std::function<void()>& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Decoding tokens/s of one sequence and of several together"};
  std::string model_path;
  int rows = 8, prompt_tokens = 512, new_tokens = 128, threads = 0;
  app.add_option("--model", model_path, "model directory, .gguf or shipped:NAME")->required();
  app.add_option("--rows", rows, "sequences decoded together");
  app.add_option("--prompt-tokens", prompt_tokens, "tokens of each prompt");
  app.add_option("--new-tokens", new_tokens, "tokens generated per sequence");
  app.add_option("--threads", threads, "kernel threads (0: all cores)");
  CLI11_PARSE(app, argc, argv);
  if (threads > 0) mlxft::kernels::set_kernel_threads(threads);
  const mlxft::Model model = mlxft::load_model(model_path);
  std::string why;
  const bool native = mlxft::DecodeStep::make(model, nullptr, &why) != nullptr;
  std::mt19937 rng(7);
  std::vector<std::vector<int32_t>> prompts(static_cast<size_t>(rows));
  for (auto& p : prompts)
    for (int i = 0; i < prompt_tokens; ++i) p.push_back(static_cast<int32_t>(rng() % 1000 + 100));
  mlxft::GenerateOptions o;
  o.ignore_eos = true;
  auto rate = [&](const std::function<void(int)>& run, int sequences) {
    o.max_tokens = 1;
    const double prompt_s = seconds([&] { run(1); });
    o.max_tokens = new_tokens;
    const double all_s = seconds([&] { run(new_tokens); });
    return static_cast<double>(sequences) * (new_tokens - 1) / (all_s - prompt_s);
  };
  rate([&](int) { mlxft::generate(model, prompts[0], o); }, 1);  // warm-up: kernel weights made
  const double one = rate([&](int) { mlxft::generate(model, prompts[0], o); }, 1);
  const double together = rate([&](int) { mlxft::generate_each(model, prompts, o); }, rows);
  std::printf(
      "{\"model\": \"%s\", \"graph_free\": %s, \"rows\": %d, \"prompt_tokens\": %d, \"new_tokens\": %d, "
      "\"threads\": %d, \"decode_tps_one\": %.2f, \"decode_tps_rows\": %.2f}\n",
      model_path.c_str(), native ? "true" : "false", rows, prompt_tokens, new_tokens,
      mlxft::kernels::kernel_threads(), one, together);
  return 0;
}
