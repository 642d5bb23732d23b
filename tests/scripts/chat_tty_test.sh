#!/usr/bin/env bash
# `mlxft chat` in a pseudo-terminal (tmux): the banner and prompts of an interactive session, a forced
# tool call shown parsed, its results typed at the "tool> " prompt, the answer after them, /exit.
# usage: chat_tty_test.sh MLXFT PYTHON V3_TOKENIZER SOURCE_DIR   (exit 77 = skipped; under CI=true a missing tmux or tokenizer fails)
set -euo pipefail
mlxft=$1 tokenizer=$3
if ! command -v tmux >/dev/null 2>&1 || [[ -z "$tokenizer" || ! -f "$tokenizer" ]]; then
  echo "tmux (scripts/setup-deps.sh installs it) or the v3 tokenizer is not available"
  [[ "${CI:-}" == "true" ]] && { echo "CI=true: they are required: failed"; exit 1; }
  echo "skipped"
  exit 77
fi
work=$(mktemp -d)
sock="mlxft-chat-test-$$"
trap 'tmux -L "$sock" kill-server 2>/dev/null || true; rm -rf "$work"' EXIT
"$mlxft" model init --preset tiny --tokenizer "$tokenizer" --seed 1 --out "$work/tiny" >/dev/null 2>&1
cat > "$work/tools.json" <<'JSON'
[{"type": "function", "function": {"name": "get_time", "description": "The current time", "parameters": {"type": "object", "properties": {}}}}]
JSON
tmux -L "$sock" new-session -d -x 220 -y 60 \
  "'$mlxft' chat --model '$work/tiny' --tools '$work/tools.json' --tool-choice required --max-tokens 200; echo CHAT-EXIT=\$?; sleep 30"
screen() { tmux -L "$sock" capture-pane -p -S -1000; }
# Waits until the screen's last non-empty line matches $1 (a grep -E pattern).
wait_last() {
  for _ in $(seq 1 600); do
    if screen | grep -v '^$' | tail -1 | grep -Eq "$1"; then return 0; fi
    sleep 0.1
  done
  echo "timed out waiting for a last line matching '$1'; the screen:"; screen; exit 1
}
wait_last '^> ?$'
screen | grep -q "mlxft chat: .*mistral-v3 format, 1 tools" || { echo "no banner"; screen; exit 1; }
tmux -L "$sock" send-keys "What time is it?" Enter
wait_last '^tool> ?$'
calls=$(screen | grep -c '^\[tool call\] get_time {}$')
[[ $calls -ge 1 ]] || { echo "no parsed tool call"; screen; exit 1; }
screen | grep -q "(give the result with /tool RESULT)" || { echo "no hint"; screen; exit 1; }
for _ in $(seq 1 "$calls"); do
  tmux -L "$sock" send-keys '/tool {"time": "10:00"}' Enter
  sleep 0.2
done
wait_last '^> ?$'
[[ $(screen | grep -c 'prompt tokens, .* reused') -eq 2 ]] || { echo "expected two answers"; screen; exit 1; }
tmux -L "$sock" send-keys "/exit" Enter
wait_last '^CHAT-EXIT=0$'
echo "interactive session: $calls parsed call(s), results given, answered, exited"
