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
