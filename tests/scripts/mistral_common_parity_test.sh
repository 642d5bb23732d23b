#!/usr/bin/env bash
# Parity with mistral-common: `mlxft data render` must produce, token for
# token, the ids of mistral-common's encode_chat_completion (v3 tokenizer) for
# the conversations in tests/data/fixtures/mistral_parity.jsonl (system
# prompts, several user turns, tools, single and parallel calls, JSON and
# plain-text results, non-ASCII, trailing spaces, the documented worked example).
# usage: mistral_common_parity_test.sh MLXFT PYTHON V3_TOKENIZER SOURCE_DIR   (exit 77 = skipped; under CI=true a missing reference fails)
set -euo pipefail
mlxft=$1 python=${MLXFT_REF_PYTHON:-$2} tokenizer=$3 src=$4   # MLXFT_REF_PYTHON: another venv with mistral-common
if [[ -z "$tokenizer" || ! -f "$tokenizer" ]] || ! "$python" -c "import mistral_common, sentencepiece" 2>/dev/null; then
  echo "mistral-common (with sentencepiece) or its v3 tokenizer is not available"
  [[ "${CI:-}" == "true" ]] && { echo "CI=true: the reference is required: failed"; exit 1; }
  echo "skipped"
  exit 77
fi
fixture=$src/tests/data/fixtures/mistral_parity.jsonl
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$python" "$src/scripts/reference/mistral_common_encode.py" "$tokenizer" "$fixture" "$work/reference.jsonl"
"$mlxft" data render --data "$fixture" --tokenizer "$tokenizer" --format messages --min-examples 1 \
  --out "$work/mlxft.jsonl"
"$python" "$src/scripts/reference/compare_ids.py" "$work/reference.jsonl" "$work/mlxft.jsonl" --worked-example

# The other shapes of the same conversations (data/records.h): each is rendered by mlxft as it is, and
# judged against mistral-common's encoding of the messages record mlxft reads it as (written back by
# `mlxft data convert --to messages`, so the ids compared are mlxft's normalised ones, which
# mistral-common refuses unless they are 9 alphanumerics). openai: every id rewritten as OpenAI writes
# them ("call_..."); sharegpt: from/value with function_call/observation; conversations: the seed's
# plain-text calls (the records it cannot express, such as parallel calls, are left out).
sed -E 's/"(id|tool_call_id)": "([A-Za-z0-9]{9})"/"\1": "call_\2_openai"/g' "$fixture" > "$work/openai.jsonl"
grep -q '"call_' "$work/openai.jsonl"
"$mlxft" data convert "$fixture" --to sharegpt --out "$work/sharegpt.jsonl" --format messages
"$mlxft" data convert "$fixture" --to conversations --out "$work/conversations.jsonl" --format messages
for shape in openai sharegpt conversations; do
  "$mlxft" data convert "$work/$shape.jsonl" --to messages --out "$work/$shape.messages.jsonl"
  "$python" "$src/scripts/reference/mistral_common_encode.py" "$tokenizer" "$work/$shape.messages.jsonl" \
    "$work/$shape.reference.jsonl"
  "$mlxft" data render --data "$work/$shape.jsonl" --tokenizer "$tokenizer" --min-examples 1 \
    --out "$work/$shape.mlxft.jsonl"
  [[ $(wc -l < "$work/$shape.mlxft.jsonl") -ge 3 ]]
  echo "shape $shape: $(wc -l < "$work/$shape.mlxft.jsonl") records"
  "$python" "$src/scripts/reference/compare_ids.py" "$work/$shape.reference.jsonl" "$work/$shape.mlxft.jsonl"
done
