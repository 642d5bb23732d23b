#!/usr/bin/env bash
# make device-check: the CUDA build checked and measured on a machine with an NVIDIA GPU, offline, in
# one run (budget: 8 minutes with the build), everything in one folder.
#
#   scripts/device_check.sh [--out DIR] [--wheels DIR] [--peer-python PY] [--jobs N] [--skip-build]
#   scripts/device_check.sh --cpu [--build DIR] [--out DIR]     (the dry run on the CPU build; ctest)
#
# Steps (each logs to DIR/<step>.log; DIR defaults to device-check/):
#  1. venv: .venv-cuda13 as `MLXFT_BACKEND=cuda13 make setup` made it while online; or, with
#     --wheels DIR (the mlx and mlx-cuda-13 wheels of requirements/mlx-version.txt), a venv over the
#     machine's Python (--system-site-packages) whose pip NVIDIA packages (cuDNN, cuBLAS, NCCL, NVRTC,
#     the CUDA runtime) serve libmlx.so through LD_LIBRARY_PATH. No network is used.
#  2. build: build-cuda13 (configure + mlxft, mlxft_device_tests, train_bench; -j of all cores). It
#     needs the Debian build dependencies (scripts/setup-deps.sh) on that machine; --skip-build uses a
#     build-cuda13 made elsewhere (same glibc or newer, those libraries present).
#  3. tests: `mlxft_device_tests` (DeviceParity.*, KernelChoice.*; the dry run: the same filter of
#     mlxft_tests): one SFT step's loss and LoRA
#     gradients on the GPU, bf16 and float32, against the CPU path, and greedy generation of a float32
#     tiny model, the same ids on both (tests/device/device_parity_test.cpp); the step graph without
#     mlxft primitives off the CPU kernels (tests/objective/kernel_choice_test.cpp).
#  4. cli: `mlxft --device gpu model info` (cpu in the dry run): the program's own device selection.
#  5. bench: bench/peers/device_bench.py (mlxft bf16 vs PEFT + torch bf16 on the small preset and the
#     Mistral-7B shape, batch 2 x 2048, r16 q/v; mlxft 4-bit 7B with checkpointing; peak GPU memory).
# Prints one table (DIR/summary.txt): each step ok / FAILED, then the benchmark's table.
# Exit status: 0 when the build, the tests and the cli step pass (the benchmark's rows may fail alone).
#
# --cpu: the same steps on this machine's CPU build (default build/), no build step: the tests on
# their CPU branch (the portable path against the kernels), --device cpu, the benchmark's tiny dry
# run; so the script does not rot (ctest: script.device_check_dry). It proves the plumbing, not the GPU.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
root=$PWD

cpu=0 skip_build=0 out=device-check build="" wheels="" peer_python="" jobs=$(nproc 2>/dev/null || echo 4)
backend=${MLXFT_BACKEND:-cuda13}
while [ $# -gt 0 ]; do
  case "$1" in
    --cpu) cpu=1 ;;
    --out) out=$2; shift ;;
    --build) build=$2; shift ;;
    --wheels) wheels=$2; shift ;;
    --peer-python) peer_python=$2; shift ;;
    --jobs) jobs=$2; shift ;;
    --skip-build) skip_build=1 ;;
    *) echo "device_check: unknown option '$1' (see the comment atop $0)" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$out" && out=$(cd "$out" && pwd)
start=$(date +%s)
summary=()
failed=0
step() {  # step NAME COMMAND...: runs it, logs to $out/NAME.log, records ok/FAILED and the seconds
  local name=$1 t0 rc
  shift
  t0=$(date +%s)
  echo "device_check: $name ..." >&2
  "$@" > "$out/$name.log" 2>&1
  rc=$?
  local line
  line=$(printf '%-8s %-7s %4ss  %s' "$name" "$([ $rc -eq 0 ] && echo ok || echo FAILED)" "$(( $(date +%s) - t0 ))" \
         "$(tail -n 1 "$out/$name.log" | cut -c1-100)")
  summary+=("$line")
  [ $rc -eq 0 ] || { failed=1; tail -n 20 "$out/$name.log" >&2; }
  return $rc
}

if [ $cpu -eq 1 ]; then
  build=${build:-build}
  venv=.venv
  device=cpu
else
  build=${build:-build-$backend}
  venv=.venv-$backend
  device=gpu
  command -v nvidia-smi >/dev/null && nvidia-smi -L > "$out/gpu.txt" 2>&1 || {
    echo "device_check: nvidia-smi finds no GPU; on a machine without one run: $0 --cpu" >&2; exit 2; }
fi

# 1. The venv (no network).
make_venv() {
  if [ -n "$wheels" ] && [ ! -x "$venv/bin/python" ]; then
    python3 -m venv --system-site-packages "$venv" &&
      "$venv/bin/python" -m pip install -q --no-index --no-deps "$wheels"/mlx*.whl || return 1
  fi
  [ -x "$venv/bin/python" ] || { echo "no $venv: run MLXFT_BACKEND=$backend make setup while online, or pass --wheels"; return 1; }
  "$venv/bin/python" -c "import importlib.util as u; print(u.find_spec('mlx').submodule_search_locations[0])"
}
if [ $cpu -eq 0 ]; then
  step venv make_venv || { printf '%s\n' "${summary[@]}"; exit 1; }
  # libmlx.so's RPATH finds the pip NVIDIA libraries beside it; a venv over the system Python has them
  # in the system site-packages instead: every nvidia/*/lib of the venv's sys.path.
  nvidia_libs=$("$venv/bin/python" -c "
import glob, os, sys
print(':'.join(d for p in sys.path for d in sorted(glob.glob(os.path.join(p, 'nvidia', '*', 'lib')))))")
  export LD_LIBRARY_PATH="${nvidia_libs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  # MLX compiles kernels at run time (NVRTC) and needs the CUDA headers: a toolkit, else the pip runtime's.
  if [ -z "${CUDA_HOME:-}" ] && [ ! -d /usr/local/cuda/include ]; then
    CUDA_HOME=$("$venv/bin/python" -c "
import glob, os, sys
print(next((os.path.dirname(h) for p in sys.path for h in glob.glob(os.path.join(p, 'nvidia', 'cu1*', 'include'))), ''))")
    export CUDA_HOME
  fi
fi
peer_python=${peer_python:-$([ $cpu -eq 1 ] && echo "$root/$venv/bin/python" || echo python3)}

# 2. The build.
build_cuda() {
  [ -f "$build/build.ninja" ] ||
    cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMLXFT_PYTHON="$root/$venv/bin/python" \
      -DMLXFT_FUZZ=OFF || return 1
  cmake --build "$build" -j "$jobs" --target mlxft mlxft_device_tests train_bench
}
if [ $cpu -eq 0 ] && [ $skip_build -eq 0 ]; then
  step build build_cuda || { printf '%s\n' "${summary[@]}"; exit 1; }
fi
tests_bin="$build/tests/mlxft_device_tests"
[ -x "$tests_bin" ] || tests_bin="$build/tests/mlxft_tests"
for f in "$build/mlxft" "$tests_bin" "$build/bench/train_bench"; do
  [ -x "$f" ] || { echo "device_check: no $f: build it first (cmake --build $build)" >&2; exit 2; }
done
"$build/mlxft" --version > "$out/version.txt" 2>&1

# 3. The GPU-relevant tests.
step tests "$tests_bin" --gtest_filter='DeviceParity.*:KernelChoice.*' --gtest_brief=1

# 4. The program's own device selection.
cli() {
  "$build/mlxft" --device "$device" model info "$root/tests/golden/hf_tiny/mistral" || return 1
  echo "mlxft --device $device: ok"
}
step cli cli

# 5. The benchmark (its rows may fail alone; the step fails only when no mlxft row ran).
bench_args=(--train-bench "$build/bench/train_bench" --peer-python "$peer_python" --out "$out")
[ $cpu -eq 1 ] && bench_args+=(--cpu)
step bench "$root/$venv/bin/python" bench/peers/device_bench.py "${bench_args[@]}"

{
  echo "make device-check$([ $cpu -eq 1 ] && echo ' --cpu (dry run)'): $(cat "$out/version.txt")"
  [ -f "$out/gpu.txt" ] && cat "$out/gpu.txt"
  printf '%s\n' "${summary[@]}"
  echo
  [ -f "$out/bench.txt" ] && cat "$out/bench.txt"
  echo "total $(( $(date +%s) - start )) s; logs in $out"
} | tee "$out/summary.txt"
exit $failed
