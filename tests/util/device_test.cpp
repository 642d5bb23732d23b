// system.device / --device: what auto, cpu and gpu resolve to on a CPU-only build, a CUDA build with and
// without a GPU, and a Metal build; the errors name the key and what to do; on this build, use_device()
// sets MLX's default device and --device reaches the program (the summary line: tests/app/settings_test).
#include "mlxft/util/device.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <mlx/mlx.h>

#include "mlxft/util/error.h"
#include "support/test_support.h"

namespace mx = mlx::core;
using ::testing::HasSubstr;

namespace mlxft {
namespace {

const BuildDevices kCpuOnly{};
const BuildDevices kCudaWithGpu{"cuda", 1, "NVIDIA H100"};
const BuildDevices kCudaWithoutGpu{"cuda", 0, ""};
const BuildDevices kMetal{"metal", 1, "Apple M2"};

Error error_of(const std::string& choice, const std::string& where, const BuildDevices& build) {
  try {
    resolve_device(choice, where, build);
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << choice << " resolved without an error";
  return Error(ErrorKind::Io, "", "");
}

TEST(Device, AutoIsTheGpuOnlyWhenTheBuildHasOneAndFindsIt) {
  EXPECT_FALSE(resolve_device("auto", "system.device", kCpuOnly).gpu);
  EXPECT_EQ(resolve_device("auto", "system.device", kCpuOnly).note, "this MLX build has no GPU backend");
  EXPECT_FALSE(resolve_device("auto", "system.device", kCudaWithoutGpu).gpu);
  EXPECT_EQ(resolve_device("auto", "system.device", kCudaWithoutGpu).note, "MLX's cuda backend finds no GPU");
  const ResolvedDevice cuda = resolve_device("auto", "system.device", kCudaWithGpu);
  EXPECT_TRUE(cuda.gpu);
  EXPECT_EQ(cuda.backend, "cuda");
  EXPECT_TRUE(resolve_device("auto", "--device", kMetal).gpu);
}

TEST(Device, CpuIsAlwaysTheCpu) {
  for (const BuildDevices& b : {kCpuOnly, kCudaWithGpu, kCudaWithoutGpu, kMetal})
    EXPECT_FALSE(resolve_device("cpu", "system.device", b).gpu) << b.gpu_backend;
}

TEST(Device, GpuOnACpuOnlyBuildNamesTheKeyAndTheBackendToInstall) {
  const Error e = error_of("gpu", "system.device", kCpuOnly);
  EXPECT_EQ(e.kind(), ErrorKind::Config);
  EXPECT_EQ(e.exit_code(), 2);
  EXPECT_EQ(e.where(), "system.device");
  EXPECT_THAT(e.detail(), HasSubstr("CPU backend"));
  EXPECT_THAT(e.hint(), HasSubstr("MLXFT_BACKEND=cuda13 make build"));
  EXPECT_THAT(e.hint(), HasSubstr("MLXFT_BACKEND=metal"));
  EXPECT_EQ(error_of("gpu", "--device", kCpuOnly).where(), "--device");
}

TEST(Device, GpuOnACudaBuildWithoutAGpuPointsAtTheDriver) {
  const Error e = error_of("gpu", "system.device", kCudaWithoutGpu);
  EXPECT_THAT(e.detail(), HasSubstr("cuda backend finds no GPU"));
  EXPECT_THAT(e.hint(), HasSubstr("nvidia-smi"));
  EXPECT_TRUE(resolve_device("gpu", "system.device", kCudaWithGpu).gpu);
  // without a GPU a CUDA build cannot compute on the CPU either (MLX allocates through CUDA): warned
  EXPECT_THAT(resolve_device("auto", "system.device", kCudaWithoutGpu).warning,
              HasSubstr("MLXFT_BACKEND=cpu"));
  EXPECT_THAT(resolve_device("cpu", "--device", kCudaWithoutGpu).warning, HasSubstr("--device"));
  EXPECT_EQ(resolve_device("cpu", "--device", kCudaWithGpu).warning, "");
  EXPECT_EQ(resolve_device("auto", "--device", kCpuOnly).warning, "");
}

TEST(Device, AnUnknownChoiceIsAConfigError) {
  const Error e = error_of("cuda", "system.device", kCudaWithGpu);
  EXPECT_EQ(e.kind(), ErrorKind::Config);
  EXPECT_THAT(e.hint(), HasSubstr("auto"));
}

TEST(Device, DescriptionSaysWhereAndWhy) {
  EXPECT_EQ(describe_device(resolve_device("auto", "system.device", kCpuOnly)),
            "cpu (system.device: auto: this MLX build has no GPU backend)");
  EXPECT_EQ(describe_device(resolve_device("cpu", "--device", kCudaWithGpu)), "cpu (--device: cpu)");
  EXPECT_EQ(describe_device(resolve_device("auto", "system.device", kCudaWithGpu)),
            "gpu (cuda, NVIDIA H100; system.device: auto)");
  EXPECT_EQ(describe_device(resolve_device("gpu", "system.device", kMetal)),
            "gpu (metal, Apple M2; system.device: gpu)");
}

// This build (the CI's mlx-cpu wheel; the CUDA variant of make device-check takes the other branch).
TEST(Device, ThisBuildSetsMlxsDefaultDevice) {
  const BuildDevices build = this_build();
  const mx::Device before = mx::default_device();
  const ResolvedDevice cpu = use_device("cpu", "system.device");
  EXPECT_FALSE(cpu.gpu);
  EXPECT_EQ(mx::default_device(), mx::Device::cpu);
  if (build.gpu_backend.empty()) {
    EXPECT_EQ(gpu_backend(), "");
    EXPECT_EQ(build.gpu_count, 0);
    EXPECT_FALSE(use_device("auto", "system.device").gpu);
    EXPECT_EQ(mx::default_device(), mx::Device::cpu);
    EXPECT_THROW(use_device("gpu", "system.device"), Error);
    EXPECT_EQ(mx::default_device(), mx::Device::cpu);  // an error changes nothing
  } else {
    EXPECT_EQ(use_device("auto", "system.device").gpu, build.gpu_count > 0);
    EXPECT_EQ(mx::default_device() == mx::Device::gpu, build.gpu_count > 0);
  }
  mx::set_default_device(before);
}

// The program: --device gpu on this build fails before the subcommand runs, naming the flag; cpu works.
TEST(Device, TheFlagReachesEveryCommand) {
  const std::string model = (test::source_dir() / "tests/golden/hf_tiny/mistral").string();
  const auto cpu = test::run_mlxft("--device cpu model info " + model);
  EXPECT_EQ(cpu.exit_code, 0) << cpu.output;
  const auto bad = test::run_mlxft("model info " + model + " --device tpu");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  if (!this_build().gpu_backend.empty()) return;  // the rest is the CPU-only build's error
  const auto gpu = test::run_mlxft("model info " + model + " --device gpu");
  EXPECT_EQ(gpu.exit_code, 2) << gpu.output;
  EXPECT_THAT(gpu.output, HasSubstr("--device"));
  EXPECT_THAT(gpu.output, HasSubstr("MLXFT_BACKEND=cuda13"));
}

}  // namespace
}  // namespace mlxft
