#!/usr/bin/env bash
# A disk that fills up under a real `mlxft train`: the output directory is a size-limited tmpfs in a
# private mount namespace (`unshare -m` as root, else `unshare -rm` in a user namespace), sized from
# an uninterrupted run so that the first checkpoint fits and the second does not. The run stops with
# an i/o error naming the second checkpoint's file and "No space left on device", the first
# checkpoint stays loadable, nothing temporary is left; after the tmpfs is grown (remount), a resume
# ends with a final adapter byte-identical to the uninterrupted run's.
# usage: disk_full_tmpfs_test.sh MLXFT PYTHON V3_TOKENIZER SOURCE_DIR   (exit 77 = skipped: no tokenizer,
# or no mount namespace with tmpfs here; under CI=true either fails)
set -euo pipefail
mlxft=$(realpath "$1") tokenizer=$3
skip() {
  echo "$1"
  [[ "${CI:-}" == "true" ]] && { echo "CI=true: required: failed"; exit 1; }
  exit 77
}
[[ -n "$tokenizer" && -f "$tokenizer" ]] || skip "the v3 tokenizer is not available"

if [[ "${DISK_FULL_INSIDE:-}" == "1" ]]; then  # in the private mount namespace
  source "$(dirname "$0")/disk_full_lib.sh"
  mkdir -p "$work/small"
  mount -t tmpfs -o "size=${DISK_FULL_SIZE_K}k" tmpfs "$work/small"
  rc=0
  "$mlxft" train --config "$work/r.yaml" > "$work/full.log" 2>&1 || rc=$?
  [[ $rc == 1 ]] || { cat "$work/full.log"; fail "exit status $rc on a full tmpfs, expected 1"; }
  expect_clear_error "$work/full.log" \
    ".*checkpoints/step-000004(/[a-z_.]+)? \(while writing its temporary copy .*checkpoints/\.step-000004\.tmp-[0-9]+(/[a-z_.]+)?\): cannot (create|write|flush|rename)[^:]*: .*No space left on device"
  grep -q "hint: the last good checkpoint is $work/small/run/checkpoints/step-000002" "$work/full.log" ||
    { cat "$work/full.log"; fail "the hint does not name the last checkpoint"; }
  [[ ! -e "$work/small/run/checkpoints/step-000004" ]] || fail "a step-000004 checkpoint was published"
  expect_loadable_checkpoint "$work/r.yaml" "$work/small/run/checkpoints/step-000002"
  expect_no_temporaries "$work/small/run"
  grep "^mlxft: i/o error" "$work/full.log"
  mount -o remount,size=64m "$work/small"
  "$mlxft" train --config "$work/r.yaml" --resume latest > "$work/resume.log" 2>&1 ||
    { cat "$work/resume.log"; fail "the resume after freeing space"; }
  cmp "$work/small/run/final_model/peft/adapter_model.safetensors" \
    "$work/ref/final_model/peft/adapter_model.safetensors" ||
    fail "the final adapter after the full disk and resume differs from the uninterrupted run's"
  umount "$work/small"
  exit 0
fi

flags=(-m)
[[ $(id -u) == 0 ]] || flags=(-r -m)
why=$(unshare "${flags[@]}" sh -c 'd=$(mktemp -d) && mount -t tmpfs -o size=64k tmpfs "$d" && umount "$d" && rmdir "$d"' 2>&1) ||
  skip "no size-limited tmpfs here (unshare ${flags[*]} + mount -t tmpfs): $why"

work=$(mktemp -d)
trap '[[ -n "${KEEP_WORK:-}" ]] || rm -rf "$work"' EXIT
source "$(dirname "$0")/disk_full_lib.sh"
setup_run_inputs
write_recipe "$work/r.yaml" "$work/small/run" "peft"
"$mlxft" train --config "$work/r.yaml" --set output.output_dir="$work/ref" > "$work/ref.log" 2>&1 ||
  { cat "$work/ref.log"; fail "the uninterrupted run"; }
# Room for the small files and one checkpoint and a half: the second checkpoint cannot fit.
checkpoint_k=$(du -sk "$work/ref/checkpoints/step-000002" | cut -f1)
size_k=$((64 + checkpoint_k * 3 / 2))
DISK_FULL_INSIDE=1 DISK_FULL_SIZE_K=$size_k work=$work unshare "${flags[@]}" bash "$0" "$@"
echo "tmpfs of ${size_k} KB (a checkpoint is ${checkpoint_k} KB): the second checkpoint failed with ENOSPC," \
  "step-000002 stayed loadable, the resume matched"
