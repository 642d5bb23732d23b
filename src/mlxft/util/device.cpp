#include "mlxft/util/device.h"

#include <fmt/format.h>
#include <mlx/mlx.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <variant>

#include "mlxft/util/error.h"

namespace mx = mlx::core;

namespace mlxft {

const std::vector<std::string>& device_choices() {
  static const std::vector<std::string> choices{"auto", "cpu", "gpu"};
  return choices;
}

std::string gpu_backend() {
  if (mx::cu::is_available()) return "cuda";
  if (mx::metal::is_available()) return "metal";
  return "";
}

BuildDevices this_build() {
  BuildDevices b;
  b.gpu_backend = gpu_backend();
  if (b.gpu_backend.empty()) return b;
  // mx::is_available(gpu) asks the backend for its devices (CUDA: cudaGetDeviceCount, 0 without a
  // driver); gpu::is_available() alone only says the backend was compiled in.
  b.gpu_count = mx::is_available(mx::Device(mx::Device::gpu, 0)) ? mx::device_count(mx::Device::gpu) : 0;
  if (b.gpu_count > 0) {
    try {
      const auto& info = mx::gpu::device_info(0);
      const auto it = info.find("device_name");
      if (it != info.end() && std::holds_alternative<std::string>(it->second))
        b.gpu_name = std::get<std::string>(it->second);
    } catch (const std::exception&) {
      // the name is only for the summary
    }
  }
  return b;
}

ResolvedDevice resolve_device(const std::string& choice, const std::string& where,
                              const BuildDevices& build) {
  const auto& choices = device_choices();
  if (std::find(choices.begin(), choices.end(), choice) == choices.end()) {
    throw Error(ErrorKind::Config, where, fmt::format("'{}' is not a device", choice),
                "use auto (the GPU when this build has one), cpu or gpu");
  }
  ResolvedDevice d;
  d.choice = choice;
  d.where = where;
  const bool has_gpu = !build.gpu_backend.empty() && build.gpu_count > 0;
  if (choice == "gpu" && build.gpu_backend.empty()) {
    throw Error(ErrorKind::Config, where,
                "gpu asked, but this mlxft was built against MLX's CPU backend (the mlx-cpu wheel), "
                "which has no GPU",
                "rebuild with a GPU backend: MLXFT_BACKEND=cuda13 make build (NVIDIA, driver >= 580; "
                "cuda12 for driver >= 550), or MLXFT_BACKEND=metal on a Mac; or set it to auto or cpu");
  }
  if (choice == "gpu" && !has_gpu) {
    throw Error(
        ErrorKind::Config, where,
        fmt::format("gpu asked, but MLX's {} backend finds no GPU on this machine", build.gpu_backend),
        build.gpu_backend == "cuda"
            ? "check the NVIDIA driver (nvidia-smi must list the GPU); or set it to auto or cpu"
            : "set it to auto or cpu");
  }
  if (choice == "gpu" || (choice == "auto" && has_gpu)) {
    d.gpu = true;
    d.backend = build.gpu_backend;
    d.gpu_name = build.gpu_name;
  } else if (choice == "auto") {
    d.note = build.gpu_backend.empty() ? "this MLX build has no GPU backend"
                                       : fmt::format("MLX's {} backend finds no GPU", build.gpu_backend);
  }
  if (!d.gpu && build.gpu_backend == "cuda" && build.gpu_count == 0) {
    d.warning = fmt::format(
        "{}: this mlxft is built on MLX's CUDA backend, which finds no GPU here; that build allocates every "
        "array through CUDA, CPU arrays too, so any computation will fail. Run it where nvidia-smi lists a "
        "GPU, or build the CPU variant (MLXFT_BACKEND=cpu make build)",
        where);
  }
  return d;
}

ResolvedDevice use_device(const std::string& choice, const std::string& where) {
  ResolvedDevice d = resolve_device(choice, where, this_build());
  if (!d.warning.empty()) spdlog::warn("{}", d.warning);
  mx::set_default_device(d.gpu ? mx::Device::gpu : mx::Device::cpu);
  return d;
}

std::string describe_device(const ResolvedDevice& d) {
  if (d.gpu) {
    return fmt::format("gpu ({}{}{}; {}: {})", d.backend, d.gpu_name.empty() ? "" : ", ", d.gpu_name, d.where,
                       d.choice);
  }
  return fmt::format("cpu ({}: {}{}{})", d.where, d.choice, d.note.empty() ? "" : ": ", d.note);
}

}  // namespace mlxft
