#!/usr/bin/env bash
# Creates .venv-bench, the virtual environment of the peer benchmark (bench/peers/run_peers.py,
# make bench-peers): torch (CPU wheel), transformers, PEFT and mlx-lm at the pinned releases of
# requirements/bench-torch.txt and requirements/bench.txt. Separate from .venv (the build's) and
# .venv-ref (the reference scripts'); CI never installs it. Idempotent.
# Usage: scripts/setup-bench-venv.sh [--dry-run]   (--dry-run: pip resolves, installs nothing)
#   MLXFT_BENCH_VENV   the venv's directory (default .venv-bench)
#   MLXFT_TORCH_INDEX  where torch comes from (default PyPI, the only registry set-up may reach; a user
#                      elsewhere may point it at https://download.pytorch.org/whl/cpu for the smaller CPU wheel)
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${MLXFT_BENCH_VENV:-.venv-bench}
torch_index=${MLXFT_TORCH_INDEX:-https://pypi.org/simple}
dry=()
[ "${1:-}" = "--dry-run" ] && dry=(--dry-run)
stamp="$venv/.mlxft-bench"
want="$torch_index $(cat requirements/bench-torch.txt requirements/bench.txt | grep -v '^#' | tr '\n' ' ')"
if [ ${#dry[@]} -eq 0 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi

python=${PYTHON:-python3}
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip install -q --disable-pip-version-check "${dry[@]}")
[ ${#dry[@]} -eq 0 ] && "${pip[@]}" --upgrade pip
# torch first (from MLXFT_TORCH_INDEX); the rest from PyPI then finds torch satisfied.
"${pip[@]}" --index-url "$torch_index" -r requirements/bench-torch.txt
"${pip[@]}" -r requirements/bench.txt
if [ ${#dry[@]} -eq 0 ]; then
  echo "$want" > "$stamp"
  echo "setup-bench-venv: $venv ready"
fi
