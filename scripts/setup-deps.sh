#!/usr/bin/env bash
# Installs the Debian packages mlxft builds and tests with, when any is missing.
# As root it runs apt-get itself; otherwise it prints the exact command to run.
# Usage: scripts/setup-deps.sh [extra-package ...]
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  python3 python3-venv python3-pip
  libsentencepiece-dev libpcre2-dev libyaml-cpp-dev nlohmann-json3-dev libcli11-dev
  libfmt-dev libspdlog-dev libopenblas-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  gnuplot-nox
  tmux  # the pseudo-terminal test of `mlxft chat` (tests/scripts/chat_tty_test.sh)
  "$@"
)
# oneDNN for the CPU kernels (src/mlxft/kernels): optional, x86-64 only.
if [ "$(uname -m)" = "x86_64" ]; then packages+=(libdnnl-dev); fi

if [ "$(uname -s)" != "Linux" ] || ! command -v dpkg-query >/dev/null 2>&1; then
  echo "setup-deps: not a Debian-like system; install the equivalents of: ${packages[*]}" >&2
  exit 0
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  echo "setup-deps: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup-deps: missing Debian packages; run as root:" >&2
  echo "  sudo sh -c '$cmd'" >&2
  exit 1
fi
