#!/usr/bin/env bash
# `make reliability`: the long tier of the reliability suite (issue 8).
#   FUZZ_SECONDS  seconds per fuzz target (default 60)
# Builds every tests/fuzz/fuzz_*.cc as a libFuzzer binary with clang
# (ASan+UBSan), runs each from its committed seed corpus for a fixed time, and
# writes the figures to $BUILD/reliability-report.md. A crash fails the run and
# leaves the reproducer in $BUILD/fuzz-artifacts/: add it to the target's
# corpus so it becomes a regression test in `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzz_seconds=${FUZZ_SECONDS:-60}
build=${FUZZ_BUILD:-build-fuzz}
BOTWATCH_DEPS_EXTRA="clang libclang-rt-14-dev" ./packaging/install-deps.sh
generator=$(command -v ninja >/dev/null && echo "-G Ninja" || true)
CC=clang CXX=clang++ cmake -S . -B "$build" $generator -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DBOTWATCH_FUZZ=ON >/dev/null
cmake --build "$build" -j"$(nproc)"

report="$build/reliability-report.md"
mkdir -p "$build/fuzz-artifacts"
{
  echo "# botwatch reliability report"
  echo
  echo "Generated $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(nproc) cores by scripts/reliability.sh (FUZZ_SECONDS=$fuzz_seconds)."
  echo
  echo "## Fuzzing (libFuzzer, ASan+UBSan)"
  echo
  echo "| target | seconds | executions | exec/s | corpus in | crashes |"
  echo "|---|---|---|---|---|---|"
} > "$report"

status=0
for bin in "$build"/tests/fuzz/fuzz_*; do
  case "$bin" in *_replay) continue ;; esac
  [ -x "$bin" ] || continue
  name=$(basename "$bin"); name=${name#fuzz_}
  seeds=tests/fuzz/corpus/$name
  work=$(mktemp -d)
  cp -r "$seeds"/. "$work"/ 2>/dev/null || true
  log="$build/fuzz-$name.log"
  set +e
  "$bin" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$build/fuzz-artifacts/$name-" "$work" > "$log" 2>&1
  rc=$?
  set -e
  execs=$(awk '/stat::number_of_executed_units/{print $2}' "$log" | tail -1)
  rate=$(awk '/stat::average_exec_per_sec/{print $2}' "$log" | tail -1)
  crashes=0
  [ $rc -ne 0 ] && crashes=1 && status=1
  echo "| $name | $fuzz_seconds | ${execs:-?} | ${rate:-?} | $(ls "$seeds" | wc -l) | $crashes |" >> "$report"
  rm -rf "$work"
done
echo >> "$report"
cat "$report"
exit $status
