#!/usr/bin/env bash
# A disk that refuses to grow a file (`ulimit -f`, SIGXFSZ ignored so write() returns EFBIG) under a
# real `mlxft train`: the checkpoints (200 KB) fit under the 2 MB limit, the fused export (17 MB)
# does not. The run stops with an i/o error naming the export file and "File too large", the last
# checkpoint (step 6) stays loadable, nothing temporary is left, and a resume without the limit
# ends with a final adapter byte-identical to an uninterrupted run's.
# usage: disk_full_ulimit_test.sh MLXFT PYTHON V3_TOKENIZER SOURCE_DIR   (exit 77 = skipped; under CI=true a missing tokenizer fails)
set -euo pipefail
mlxft=$1 tokenizer=$3
if [[ -z "$tokenizer" || ! -f "$tokenizer" ]]; then
  echo "the v3 tokenizer is not available"
  [[ "${CI:-}" == "true" ]] && { echo "CI=true: it is required: failed"; exit 1; }
  exit 77
fi
work=$(mktemp -d)
trap '[[ -n "${KEEP_WORK:-}" ]] || rm -rf "$work"' EXIT
source "$(dirname "$0")/disk_full_lib.sh"
setup_run_inputs
write_recipe "$work/r.yaml" "$work/run" "peft, fused"
"$mlxft" train --config "$work/r.yaml" --set output.output_dir="$work/ref" > "$work/ref.log" 2>&1 ||
  { cat "$work/ref.log"; fail "the uninterrupted run"; }

rc=0
(trap '' XFSZ; ulimit -f 2048; exec "$mlxft" train --config "$work/r.yaml") > "$work/full.log" 2>&1 || rc=$?
[[ $rc == 1 ]] || { cat "$work/full.log"; fail "exit status $rc under ulimit -f, expected 1"; }
expect_clear_error "$work/full.log" ".*final_model/fused/model\.safetensors \(while writing its temporary copy .*final_model/\.fused\.tmp-[0-9]+/(\.)?model\.safetensors.*\): cannot write: .*File too large"
grep -q "hint: the last good checkpoint is $work/run/checkpoints/step-000006" "$work/full.log" ||
  { cat "$work/full.log"; fail "the hint does not name the last checkpoint"; }
expect_loadable_checkpoint "$work/r.yaml" "$work/run/checkpoints/step-000006"
expect_no_temporaries "$work/run"
[[ -f "$work/run/final_model/peft/adapter_model.safetensors" && ! -e "$work/run/final_model/fused" ]] ||
  fail "peft/ (written before the fault) and no fused/ expected"

"$mlxft" train --config "$work/r.yaml" --resume latest > "$work/resume.log" 2>&1 ||
  { cat "$work/resume.log"; fail "the resume after the fault"; }
[[ -f "$work/run/final_model/fused/model.safetensors" ]] || fail "no fused export after the resume"
cmp "$work/run/final_model/peft/adapter_model.safetensors" "$work/ref/final_model/peft/adapter_model.safetensors" ||
  fail "the final adapter after the fault and resume differs from the uninterrupted run's"
echo "ulimit -f 2048: the fused export failed with EFBIG, step-000006 stayed loadable, the resume matched"
