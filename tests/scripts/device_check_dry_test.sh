#!/usr/bin/env bash
# make device-check's dry run (scripts/device_check.sh --cpu) on this CPU build: every step of the GPU
# script runs here (the device parity tests on the CPU branch, the program's --device, the benchmark's
# tiny rows) and the summary table says ok for each, so the script cannot rot unnoticed between GPU runs.
# Arguments (tests/CMakeLists.txt): MLXFT_BINARY PYTHON V3_TOKENIZER SOURCE_DIR.
set -euo pipefail
mlxft=$1 src=$4
build=$(cd "$(dirname "$mlxft")" && pwd)
# make asan / make coverage build without the benchmarks (MLXFT_BENCH=OFF): nothing to run there (77:
# ctest's skip); CI's `make test` builds them.
[ -x "$build/bench/train_bench" ] || { echo "no $build/bench/train_bench (MLXFT_BENCH=OFF)"; exit 77; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail() { echo "FAIL: $*" >&2; cat "$out/summary.txt" >&2 2>/dev/null || true; exit 1; }

"$src/scripts/device_check.sh" --cpu --build "$build" --out "$out" > "$out/stdout.txt" 2> "$out/stderr.txt" ||
  { cat "$out/stderr.txt" >&2; fail "device_check.sh --cpu exited $?"; }
for s in tests cli bench; do
  grep -Eq "^$s +ok " "$out/summary.txt" || fail "step $s is not ok"
done
grep -q "mlxft --device cpu: ok" "$out/cli.log" || fail "the cli step did not run"
grep -Eq "PASSED.* ([4-9]|[1-9][0-9]) tests" "$out/tests.log" || fail "the device tests did not run"
# the table: three mlxft rows with numbers (tokens/s, s/step, peak GB, loss), PEFT rows present
[ "$(grep -cE '^mlxft +tiny +(bf16|4-bit, ckpt) +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +cpu' "$out/bench.txt")" -eq 3 ] ||
  fail "bench.txt lacks the three mlxft rows"
[ "$(grep -c '^peft ' "$out/bench.txt")" -eq 2 ] || fail "bench.txt lacks the PEFT rows"
python3 -c "import json, sys; r = json.load(open(sys.argv[1])); assert len(r) == 5, r" "$out/bench.json" ||
  fail "bench.json"
echo "device_check --cpu: every step ok"
