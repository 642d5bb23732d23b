#!/usr/bin/env bash
# The folder structure (scripts/check_structure.py): the tree's folder graph has no cycle and every
# folder of src/mlxft has a row in docs/architecture.md's folder map. First a self-test of the check
# on small fixture trees: a cycle fails and is named, a missing map row fails, a clean tree passes.
# usage: structure_test.sh MLXFT PYTHON V3_TOKENIZER SOURCE_DIR   (only SOURCE_DIR and a Python 3 are used)
set -euo pipefail
src=$4
python=$(command -v python3 || true)
[[ -n "$python" ]] || python=$2
check="$src/scripts/check_structure.py"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A fixture tree: fixture DIR FOLDER:DEP... ; every folder gets a file including its deps and a map row.
fixture() {
  local dir=$1
  shift
  mkdir -p "$dir/docs" "$dir/src/mlxft"
  printf '| folder | what |\n|---|---|\n' >"$dir/docs/architecture.md"
  for spec in "$@"; do
    local name=${spec%%:*} deps=${spec#*:}
    mkdir -p "$dir/src/mlxft/$name"
    : >"$dir/src/mlxft/$name/$name.cpp"
    for dep in ${deps//,/ }; do echo "#include \"mlxft/$dep/$dep.h\"" >>"$dir/src/mlxft/$name/$name.cpp"; done
    echo "| \`src/mlxft/$name/\` | $name |" >>"$dir/docs/architecture.md"
  done
}
expect_fail() {  # expect_fail NAME PATTERN ARGS...: the check fails and says PATTERN
  local name=$1 pattern=$2
  shift 2
  if "$python" "$check" "$@" >"$work/$name.out" 2>&1; then
    echo "self-test $name: the check passed, expected a failure"; cat "$work/$name.out"; exit 1
  fi
  grep -qF -- "$pattern" "$work/$name.out" || { echo "self-test $name: no '$pattern' in:"; cat "$work/$name.out"; exit 1; }
}

fixture "$work/clean" top:mid,low mid:low low:
"$python" "$check" --root "$work/clean" --graph >"$work/clean.out"
diff <(printf 'top -> low, mid\nmid -> low\nlow ->\n') "$work/clean.out"

fixture "$work/cycle" top:a a:b b:c c:a
expect_fail cycle "folder cycle a -> b -> c -> a" --root "$work/cycle"

fixture "$work/missing" top:low low:
sed -i '/src\/mlxft\/low\//d' "$work/missing/docs/architecture.md"
expect_fail missing 'no row for `src/mlxft/low/`' --root "$work/missing"
echo "self-test: passed"

# The tree itself.
"$python" "$check" --root "$src" --graph
"$python" "$check" --root "$src"
