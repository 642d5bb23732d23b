#!/usr/bin/env bash
# Tokens/s of data-parallel training on one machine: 1 process with 2 BLAS threads against 2 ranks
# (ring backend over loopback) with 1 thread each, SmolLM2-135M-Instruct (Q4_1 GGUF, QLoRA r16 on
# q,k,v,o) on the seed's tool-use data, global micro-batch 4, the same steps. Prints the mean
# train/tokens_per_second of steps 2.. (global tokens; evaluation and checkpoints excluded).
#   scripts/distributed_scaling.sh build/mlxft [steps]
set -euo pipefail
mlxft=$(realpath "$1")
steps=${2:-8}
root=$(cd "$(dirname "$0")/.." && pwd)
gguf=shipped:smollm2-135m-instruct-q4_1  # the set-up's GGUF, found by mlxft in .venv
data=$root/../shared/data/syngen_toolset_v1.0.0_claude.jsonl
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/recipe.yaml" <<YAML
model: {path: $gguf}
lora: {rank: 16, alpha: 32, dropout: 0.0, target_modules: [q_proj, k_proj, v_proj, o_proj]}
data: {dataset_path: $data, labels: desirable, max_seq_length: 384, truncate: drop, valid_split: 0.01}
training: {max_steps: $steps, batch_size: 4, gradient_accumulation_steps: 1, learning_rate: 1.0e-4,
           warmup_steps: 1, logging_steps: 1, eval_steps: 1000, save_steps: 1000}
output: {output_dir: $work/out, overwrite_output_dir: true}
logging: {progress: none, plots: false}
evaluation: {eval_batch_size: 4, generate_samples: false}
YAML
mean_tps() {
  "$root/.venv/bin/python" - "$1" <<'PY'
import json, sys
v = [json.loads(l)["train/tokens_per_second"] for l in open(sys.argv[1]) if '"type":"train"' in l][1:]
print(f"{sum(v) / len(v):.0f} tok/s over {len(v)} steps")
PY
}
"$mlxft" train --config "$work/recipe.yaml" --set system.threads=2 >"$work/one.log" 2>&1
echo "1 process x 2 threads: $(mean_tps "$work/out/metrics.jsonl")"
port=$(( 20000 + RANDOM % 20000 ))
echo "[[\"127.0.0.1:$port\"], [\"127.0.0.1:$((port + 1))\"]]" >"$work/hosts.json"
for r in 0 1; do
  MLX_RANK=$r MLX_HOSTFILE=$work/hosts.json "$mlxft" train --config "$work/recipe.yaml" \
    --set system.threads=1 >"$work/rank$r.log" 2>&1 &
done
wait
echo "2 ranks x 1 thread:    $(mean_tps "$work/out/metrics.jsonl")"
