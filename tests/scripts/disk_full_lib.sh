# Shared by the disk-full tests (disk_full_ulimit_test.sh, disk_full_tmpfs_test.sh), sourced:
# a tiny model, a small learnable dataset and a short recipe in $work, and the checks they share.
# Expects: $mlxft, $tokenizer, $work.

# The tiny model and 64 "count on from N" conversations.
setup_run_inputs() {
  "$mlxft" model init --preset tiny --tokenizer "$tokenizer" --seed 1 --out "$work/tiny" >/dev/null 2>&1
  local words=(one two three four five six seven eight nine ten) i s answer
  for i in $(seq 0 63); do
    s=$((i % 6))
    answer="${words[*]:$s:5}"
    printf '{"messages": [{"role": "user", "content": "Count on from %s"}, {"role": "assistant", "content": "%s"}]}\n' \
      "${words[$s]}" "$answer"
  done > "$work/data.jsonl"
}

# write_recipe FILE OUTPUT_DIR EXPORTS: 6 steps, a checkpoint every 2.
write_recipe() {
  cat > "$1" <<YAML
model:
  path: $work/tiny
  dtype: float32
lora:
  rank: 8
  alpha: 16
  target_modules: [q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj]
data:
  dataset_path: $work/data.jsonl
  min_examples: 10
  valid_split: 0.125
  max_seq_length: 64
training:
  max_steps: 6
  batch_size: 4
  gradient_accumulation_steps: 1
  learning_rate: 5.0e-3
  warmup_steps: 1
  logging_steps: 1
  eval_steps: 2
  save_steps: 2
  seed: 5
output:
  output_dir: $2
  save_total_limit: 0
  export: [$3]
logging:
  plots: false
  tensorboard: true
  progress: plain
evaluation:
  eval_batch_size: 8
  generate_samples: false
YAML
}

fail() { echo "FAILED: $*"; exit 1; }

# The checkpoint loads and verifies: an eval-only run from it (which writes nothing) works.
expect_loadable_checkpoint() {  # RECIPE CHECKPOINT_DIR
  "$mlxft" train --config "$1" --eval-only --resume "$2" > "$work/eval-only.log" 2>&1 ||
    { cat "$work/eval-only.log"; fail "checkpoint $2 does not load"; }
  grep -q "validation:" "$work/eval-only.log" || fail "no validation loss from $2"
}

expect_no_temporaries() {  # RUN_DIR
  local left
  left=$(find "$1" -name '*.tmp-*' -o -name '*.old-*' -o -name '.plots.tmp')
  [[ -z "$left" ]] || fail "temporaries left behind: $left"
}

expect_clear_error() {  # LOG PATTERN (an extended regex the "mlxft: i/o error: " line must match)
  grep -q "internal error" "$1" && { cat "$1"; fail "an internal error"; }
  grep -Eq "^mlxft: i/o error: $2" "$1" || { cat "$1"; fail "no i/o error matching '$2'"; }
}
