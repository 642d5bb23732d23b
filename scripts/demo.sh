#!/usr/bin/env bash
# The demo behind `make demo`: a complete fine-tuning run, from data check to
# exported adapters, on a small random Mistral-shaped model with the real v3
# tokenizer. Uses the seed dataset when ../shared/data has it, otherwise a
# synthetic tool-calling dataset that mlxft writes itself.
#
# Environment (for tests and tinkering):
#   MLXFT_BIN        the mlxft program (default build/mlxft)
#   MLXFT_DEMO_OUT   where everything goes (default out/demo)
#   MLXFT_DEMO_STEPS optimizer steps (default: the recipe's, 60)
#   MLXFT_DEMO_DATA  seed|synth (default: seed when present)
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${MLXFT_BIN:-build/mlxft}
out=${MLXFT_DEMO_OUT:-out/demo}
seed_data=../shared/data/syngen_toolset_v1.0.0_claude.jsonl
tokenizer=$(ls .venv/lib/python3*/site-packages/mistral_common/data/mistral_instruct_tokenizer_240323.model.v3 2>/dev/null | head -n 1)
if [ -z "$tokenizer" ]; then
  echo "demo: the Mistral v3 tokenizer (from the mistral-common wheel) is missing; run 'make setup'" >&2
  exit 1
fi

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
start=$(date +%s)
rm -rf "$out"
mkdir -p "$out"

step "1/6 A small random Mistral-shaped model with the real v3 tokenizer"
"$bin" model init --config-json configs/demo-model.json --tokenizer "$tokenizer" --seed 0 --out "$out/model"

step "2/6 Data"
if [ "${MLXFT_DEMO_DATA:-seed}" = seed ] && [ -f "$seed_data" ]; then
  data=$seed_data
  echo "using the seed dataset $data"
else
  data=$out/synthetic.jsonl
  "$bin" data synth --count 600 --seed 0 --out "$data"
fi
"$bin" data check --data "$data" --model "$out/model" --max-seq-length 512

step "3/6 LoRA fine-tuning (configs/demo.yaml)"
overrides=(--set "model.path=$out/model" --set "data.dataset_path=$data" --output-dir "$out/run")
[ -n "${MLXFT_DEMO_STEPS:-}" ] && overrides+=(--set "training.max_steps=$MLXFT_DEMO_STEPS" --set "training.eval_steps=$MLXFT_DEMO_STEPS" --set "training.save_steps=$MLXFT_DEMO_STEPS")
"$bin" train --config configs/demo.yaml "${overrides[@]}"

step "4/6 Plots and report"
"$bin" report --run "$out/run"

step "5/6 Generation with the adapter"
"$bin" generate --model "$out/model" --adapter "$out/run/final_model/peft" --chat \
  --prompt "What is the weather in Paris right now?" --max-tokens 40 --temperature 0

step "6/6 Where everything is"
cat <<EOT
  model           $out/model
  run             $out/run
  adapters        $out/run/final_model/peft (PEFT) and $out/run/final_model/mlx (mlx-lm)
  metrics         $out/run/metrics.jsonl
  plots, report   $out/run/*.svg, $out/run/report.html
  checkpoints     $out/run/checkpoints/ (resume: $bin train --config configs/demo.yaml ${overrides[*]} --resume latest)
  wall time       $(( $(date +%s) - start )) s
EOT
