// The compute device: where MLX runs a command's work (the recipe key system.device, the --device flag).
//
// Contract:
// - device_choices() = auto, cpu, gpu: the key's and the flag's choices.
// - this_build() says what the linked MLX offers: its GPU backend ("cuda", "metal", or "" for the
//   mlx-cpu wheel) and how many GPUs that backend finds now (0 on a CUDA build without a GPU or driver).
// - resolve_device(choice, where, build) is pure:
//     auto -> the GPU when the build has a GPU backend and it finds a GPU, else the CPU;
//     cpu  -> the CPU (the x86 kernels run only on CPU streams: kernels/switches.h);
//     gpu  -> the GPU, or a Config error at `where` (the key or flag that asked) that says the build
//             has no GPU backend (hint: MLXFT_BACKEND=cuda13, cuda12 or metal, then make build) or
//             that its backend finds no GPU (hint: the driver, nvidia-smi; or auto / cpu);
//     any other choice -> a Config error naming the choices.
//   Its note says why (e.g. "auto: this MLX build has no GPU backend"). On a CUDA build that finds no
//   GPU, auto and cpu resolve to the CPU with a warning: MLX's CUDA build allocates every array through
//   CUDA (managed memory), CPU arrays too, so its first array fails there; the CPU build is the fix.
// - use_device(choice, where) resolves against this_build(), logs the warning if any, and makes the
//   result MLX's default device (mx::set_default_device). Call it before any array is made: the weights'
//   dtype and the kernels' choice read the default device. MLX's own default on a CUDA build is the GPU even
//   when none is present, so every command sets it (cli/main.cpp: auto unless --device).
// - describe_device(d) is the run summary's line: "gpu (cuda, NVIDIA H100; system.device: auto)",
//   "cpu (system.device: auto: this MLX build has no GPU backend)".
#pragma once

#include <string>
#include <vector>

namespace mlxft {

struct BuildDevices {
  std::string gpu_backend;  // "cuda" | "metal" | "" (no GPU backend)
  int gpu_count = 0;        // GPUs the backend finds now
  std::string gpu_name;     // the first GPU's name, when known
};

struct ResolvedDevice {
  bool gpu = false;
  std::string choice;   // as asked: auto | cpu | gpu
  std::string where;    // the key or flag that asked
  std::string backend;  // the GPU backend when gpu
  std::string gpu_name;
  std::string note;     // why auto chose what it chose; empty otherwise
  std::string warning;  // a CUDA build without a GPU: it cannot compute at all (use_device logs it)
};

const std::vector<std::string>& device_choices();
std::string gpu_backend();  // this_build().gpu_backend without asking for devices (no driver call)
BuildDevices this_build();
ResolvedDevice resolve_device(const std::string& choice, const std::string& where, const BuildDevices& build);
ResolvedDevice use_device(const std::string& choice, const std::string& where);
std::string describe_device(const ResolvedDevice& d);

}  // namespace mlxft
