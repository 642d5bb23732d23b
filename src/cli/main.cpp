// mlxft: LoRA fine-tuning of Llama/Mistral models on MLX. Entry point: parses
// the command line, runs the chosen subcommand, and turns every error into a
// short message and an exit code (0 success, 1 failure in the run, 2 usage or
// configuration error). No stack trace ever reaches the user; with --debug an error also prints
// its kind, where it happened and the exit status on separate lines (and, for an unexpected
// exception, its C++ type).
#include <mlx/mlx.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <exception>
#include <new>
#include <iostream>
#include <typeinfo>

#include "cli/commands.h"
#include "cli/memory_guard.h"
#include "mlxft/util/address_space.h"
#include "mlxft/util/blas.h"
#include "mlxft/util/device.h"
#include "mlxft/util/error.h"
#include "mlxft/util/logging.h"

int main(int argc, char** argv) {
  mlxft::fix_cpu_runtime_env(argv);  // may re-exec once with the right OpenBLAS kernels, OpenMP waits
  mlxft::cli::install_memory_guard();  // an allocation that fails is a clear error in any thread
  // Every message (warnings included) goes to stderr from the start: spdlog's own default logger writes
  // to stdout, which `tokenize`, `generate` and `config` keep machine-readable. `train` replaces it
  // with its level and log file.
  mlxft::setup_logging("info");
  CLI::App app{"mlxft: LoRA fine-tuning of Llama/Mistral models on MLX"};
  app.require_subcommand(1);
  app.fallthrough();  // --debug and --threads work after the subcommand too (`mlxft train ... --debug`)
  app.set_version_flag("--version", [] {
    const std::string backend = mlxft::gpu_backend();
    return std::string("mlxft 0.1.0 (MLX ") + mlx::core::version() + " " +
           (backend.empty() ? "cpu" : backend) + " backend, " + mlxft::blas_description() + ")";
  });
  mlxft::cli::GlobalOptions global;
  app.add_flag("--debug", global.debug, "Verbose logging and error detail");
  app.add_option("--threads", global.threads, "BLAS threads for CPU matmuls (default: all cores)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--device", global.device,
                 "Compute device: auto (the GPU when this build's MLX has one and finds a GPU), cpu or gpu; "
                 "for train it wins over system.device")
      ->check(CLI::IsMember(mlxft::device_choices()));
  app.parse_complete_callback([&global] {
    if (global.debug) spdlog::set_level(spdlog::level::debug);
    mlxft::set_blas_threads(global.threads);
    mlxft::reserve_blas_buffers();  // under `ulimit -v`: OpenBLAS's buffer now, or a clear error
    // Before any subcommand makes an array: MLX's own default on a CUDA build is the GPU even where
    // none is present. train resolves again with system.device when --device was not given.
    (void)mlxft::use_device(global.device.empty() ? "auto" : global.device, "--device");
  });
  mlxft::cli::add_train_command(app, global);
  mlxft::cli::add_model_command(app, global);
  mlxft::cli::add_generate_command(app, global);
  mlxft::cli::add_chat_command(app, global);
  mlxft::cli::add_data_command(app, global);
  mlxft::cli::add_data_synth_command(*app.get_subcommand("data"));
  mlxft::cli::add_config_command(app, global);
  mlxft::cli::add_report_command(app, global);
  mlxft::cli::add_eval_command(app, global);
  mlxft::cli::add_tokenize_command(app, global);
  mlxft::cli::add_fuse_command(app, global);
  mlxft::cli::add_export_command(app, global);
  mlxft::cli::add_logits_command(*app.get_subcommand("model"));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  } catch (const mlxft::Error& e) {
    std::fflush(stdout);
    std::cerr << "mlxft: " << e.what() << "\n";
    if (global.debug) {
      std::cerr << "  debug: kind: " << mlxft::to_string(e.kind()) << "\n"
                << "  debug: where: " << (e.where().empty() ? "(not given)" : e.where()) << "\n"
                << "  debug: detail: " << e.detail() << "\n"
                << "  debug: hint: " << (e.hint().empty() ? "(none)" : e.hint()) << "\n"
                << "  debug: exit status: " << e.exit_code() << "\n";
    }
    return e.exit_code();
  } catch (const std::exception& e) {
    std::fflush(stdout);
    if (mlxft::is_allocation_failure(e)) {  // std::bad_alloc, or MLX's stream passing one on as text
      std::cerr << mlxft::cli::allocation_failure_message(e);
      if (global.debug) std::cerr << "  debug: exception type: " << typeid(e).name() << ": " << e.what() << "\n";
      return 1;
    }
    std::cerr << "mlxft: internal error: " << e.what() << "\n"
              << "  this is a bug in mlxft; rerun with --debug and report it\n";
    if (global.debug) std::cerr << "  debug: exception type: " << typeid(e).name() << "\n";
    return 1;
  }
  return 0;
}
