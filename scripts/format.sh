#!/usr/bin/env bash
# `make format` rewrites every C++ file of the tree in the house style
# (.clang-format); `make format-check` (run by `make test`) lists the files
# that are not, with the first lines that differ, and fails.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
if ! command -v clang-format >/dev/null 2>&1; then
  echo "format: clang-format is not installed (make deps installs it)" >&2
  exit 1
fi
# The tracked files when this is a git checkout, else every C++ file outside build trees.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files '*.cc' '*.h')
else
  mapfile -t files < <(find . -path './build*' -prune -o \( -name '*.cc' -o -name '*.h' \) -print | sed 's|^\./||' | sort)
fi
if [ "$mode" != "--check" ]; then
  clang-format -i "${files[@]}"
  exit 0
fi
bad=0
for f in "${files[@]}"; do
  if ! diff -q <(clang-format "$f") "$f" >/dev/null; then
    if [ $bad -eq 0 ]; then echo "format-check: not in the house style (run \`make format\`):" >&2; fi
    bad=$((bad + 1))
    echo "  $f" >&2
    diff -u "$f" <(clang-format "$f") | sed -n '3,12p' | sed 's/^/    /' >&2
  fi
done
if [ $bad -ne 0 ]; then
  echo "format-check: $bad of ${#files[@]} files differ" >&2
  exit 1
fi
echo "format-check: ${#files[@]} files in the house style"
