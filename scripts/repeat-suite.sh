#!/usr/bin/env bash
# Runs the suite several times in a row to show it is not flaky:
#   scripts/repeat-suite.sh [RUNS] [SANITIZE_RUNS]
# RUNS times `make test` (default 5), then SANITIZE_RUNS times `make test-sanitize`
# (default 1). Every run's full log is kept in repeat-logs/<UTC time>/ (test-N.log,
# sanitize-N.log) with a summary.txt of pass/fail, duration and load average; the
# script stops at the first failing run and exits 1, pointing at its log.
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
san_runs=${2:-1}
dir="repeat-logs/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$dir"
summary="$dir/summary.txt"
echo "repeat-suite on $(nproc) cores, $(git rev-parse --short HEAD 2>/dev/null || echo '?'), started $(date -u +%FT%TZ)" | tee "$summary"

run() {  # run NAME TARGET
  local log="$dir/$1.log" start rc
  start=$(date +%s)
  make "$2" > "$log" 2>&1
  rc=$?
  local line
  line="$1: $( [ $rc -eq 0 ] && echo pass || echo "FAIL (exit $rc)" ) in $(( $(date +%s) - start )) s;"
  line+=" $(grep -E 'tests passed|tests failed' "$log" | tail -1); load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "$line" | tee -a "$summary"
  if [ $rc -ne 0 ]; then
    echo "repeat-suite: $1 failed, its log: $log" >&2
    exit 1
  fi
}

for i in $(seq 1 "$runs"); do run "test-$i" test; done
for i in $(seq 1 "$san_runs"); do run "sanitize-$i" test-sanitize; done
echo "repeat-suite: all $runs + $san_runs runs passed; logs in $dir" | tee -a "$summary"
