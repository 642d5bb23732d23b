#!/usr/bin/env bash
# End-to-end test of the demo path (scripts/demo.sh, what `make demo` runs) with
# a short run: 4 optimizer steps on the synthetic dataset. Asserts that every
# stage ran and left its output: model, data check, training with a baseline
# and a final evaluation, both adapter formats, metrics, plots/report, generation.
# Args: <mlxft> <venv-python> <v3-tokenizer> <source-dir>
set -euo pipefail
bin=$1 src=$4
if [ -z "$3" ]; then
  [ "${CI:-}" = "true" ] && { echo "no tokenizer, and CI=true requires it: failed"; exit 1; }
  echo "no tokenizer: skipped"; exit 77
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

log=$out/demo.log
MLXFT_BIN=$bin MLXFT_DEMO_OUT=$out/demo MLXFT_DEMO_STEPS=4 MLXFT_DEMO_DATA=synth \
  bash "$src/scripts/demo.sh" > "$log" 2>&1 || { cat "$log"; echo "FAIL: demo exited non-zero"; exit 1; }

fail() { cat "$log"; echo "FAIL: $*"; exit 1; }
run=$out/demo/run
for f in model/config.json model/model.safetensors model/tokenizer.model synthetic.jsonl \
         run/final_model/peft/adapter_model.safetensors run/final_model/peft/adapter_config.json \
         run/final_model/mlx/adapters.safetensors run/final_model/mlx/adapter_config.json \
         run/metrics.jsonl run/effective_config.yaml run/report.html run/loss.svg; do
  [ -s "$out/demo/$f" ] || fail "missing $f"
done
grep -q '"type": *"eval".*"step": *0\|"step": *0.*"type": *"eval"' "$run/metrics.jsonl" || fail "no baseline evaluation at step 0"
grep -q '"step": *4' "$run/metrics.jsonl" || fail "no metrics at step 4"
[ "$(grep -c '"type": *"train"' "$run/metrics.jsonl")" -ge 1 ] || fail "no training metrics"
grep -q 'ok: the data is usable' "$log" || fail "data check did not pass"
grep -q 'Where everything is' "$log" || fail "no final summary"
grep -q 'tokens/s' "$log" || fail "generation did not report its speed"
grep -q '"peft_type": *"LORA"' "$run/final_model/peft/adapter_config.json" || fail "PEFT config lacks peft_type"
echo "demo path ok"
