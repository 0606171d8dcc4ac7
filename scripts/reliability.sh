#!/usr/bin/env bash
# `make reliability`: the long tier of the reliability suite (docs/RELIABILITY.md).
#   FUZZ_SECONDS        seconds per fuzz target (default 60)
#   CHAOS_LINES         lines written during the rotation chaos (default 1000000)
#   CHAOS_SECONDS       how long the chaos writer is paced to take (default 100)
#   SOAK_MINUTES        load and soak duration (default 10)
#   SOAK_SCRAPES_PER_S  /metrics scrapes per second by wrk (default 50)
#   SOAK_LINES_PER_S    log lines per second during the soak (default 20000)
#   SOAK_WARMUP_SECONDS RSS/fd baseline taken after this (default 60)
#   RELIABILITY_PARTS   which parts to run (default "fuzz chaos soak")
# 1. Fuzzing: builds every tests/fuzz/fuzz_*.cc as a libFuzzer binary with
#    clang (ASan+UBSan) in $FUZZ_BUILD and runs each from its committed seed
#    corpus for FUZZ_SECONDS. A crash fails the run and leaves the reproducer
#    in $FUZZ_BUILD/fuzz-artifacts/: add it to the target's corpus so it
#    becomes a regression test in `make test`.
# 2. Rotation chaos (scripts/reliability/chaos.py) against the release build.
# 3. Load and soak (scripts/reliability/soak.py) with wrk against the release build.
# Every figure goes to $FUZZ_BUILD/reliability-report.md; any failed part fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzz_seconds=${FUZZ_SECONDS:-60}
build=${FUZZ_BUILD:-build-fuzz}
release=${BUILD:-build}
parts=${RELIABILITY_PARTS:-fuzz chaos soak}
started=$(date +%s)
BOTWATCH_DEPS_EXTRA="clang libclang-rt-14-dev wrk" ./packaging/install-deps.sh
generator=$(command -v ninja >/dev/null && echo "-G Ninja" || true)

report="$build/reliability-report.md"
mkdir -p "$build/fuzz-artifacts"
{
  echo "# botwatch reliability report"
  echo
  echo "Generated $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(nproc) cores by scripts/reliability.sh"
  echo "(FUZZ_SECONDS=$fuzz_seconds CHAOS_LINES=${CHAOS_LINES:-1000000} SOAK_MINUTES=${SOAK_MINUTES:-10}"
  echo "SOAK_SCRAPES_PER_S=${SOAK_SCRAPES_PER_S:-50} SOAK_LINES_PER_S=${SOAK_LINES_PER_S:-20000}; load average at start: $(cut -d' ' -f1-3 /proc/loadavg))."
  echo
} > "$report"

status=0
part() { case " $parts " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
# Runs scripts/reliability/$1.py against the release build, keeps its JSON in
# $build/$1.json and appends to the report what the Python on stdin makes of it
# (as sys.argv[1]); a failed run fails the whole tier.
run_python_part() {
  set +e
  local result
  result=$(python3 "scripts/reliability/$1.py" "$release/botwatch" </dev/null)
  local rc=$?
  set -e
  if [ $rc -ne 0 ]; then status=1; fi
  echo "$result" > "$build/$1.json"
  python3 - "$result" >> "$report"
}

if part fuzz; then
  CC=clang CXX=clang++ cmake -S . -B "$build" $generator -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DBOTWATCH_FUZZ=ON >/dev/null
  # Only the fuzz binaries: the rest of the instrumented build is not needed here.
  targets=$(for f in tests/fuzz/fuzz_*.cc; do basename "$f" .cc; done)
  # shellcheck disable=SC2086
  cmake --build "$build" -j"$(nproc)" --target $targets
  {
    echo "## Fuzzing (libFuzzer, ASan+UBSan)"
    echo
    echo "| target | seconds | executions | exec/s | seed corpus | corpus at end | crashes |"
    echo "|---|---|---|---|---|---|---|"
  } >> "$report"
  for src in tests/fuzz/fuzz_*.cc; do
    target=$(basename "$src" .cc)
    bin="$build/tests/fuzz/$target"
    name=${target#fuzz_}
    seeds=tests/fuzz/corpus/$name
    work=$(mktemp -d)
    cp -r "$seeds"/. "$work"/ 2>/dev/null || true
    log="$build/fuzz-$name.log"
    set +e
    # The fuzz build's UBSan is recoverable: halt so undefined behaviour counts as a crash.
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
    "$bin" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
      -artifact_prefix="$build/fuzz-artifacts/$name-" "$work" > "$log" 2>&1
    rc=$?
    set -e
    execs=$(awk '/stat::number_of_executed_units/{print $2}' "$log" | tail -1)
    rate=$(awk '/stat::average_exec_per_sec/{print $2}' "$log" | tail -1)
    crashes=0
    if [ $rc -ne 0 ]; then crashes=1; status=1; echo "fuzz $name: FAILED, see $log" >&2; fi
    echo "| $name | $fuzz_seconds | ${execs:-?} | ${rate:-?} | $(ls "$seeds" | wc -l) | $(ls "$work" | wc -l) | $crashes |" >> "$report"
    rm -rf "$work"
  done
  echo >> "$report"
fi

if part chaos || part soak; then
  # The release build (the one `make test` builds) is what runs in production.
  make --no-print-directory build BUILD="$release" >/dev/null
fi

if part chaos; then
  echo "rotation chaos: ${CHAOS_LINES:-1000000} lines over about ${CHAOS_SECONDS:-100} s ..." >&2
  run_python_part chaos <<'EOF'
import json, sys
r = json.loads(sys.argv[1])
rot = r["rotations"]
print("## Rotation chaos (release build)\n")
print("| lines written | lines counted | lines read | SIGKILLs | starts | renames | copytruncates | delete+recreate | write s | total s | exact |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
print(f'| {r["lines_written"]} | {r["lines_counted"]} | {r["lines_read"]} | {r["sigkills"]} | {r["starts"]} | '
      f'{rot["rename"]} | {rot["copytruncate"]} | {rot["delete"]} | {r["write_seconds"]} | {r["total_seconds"]} | '
      f'{"yes" if r["exact"] else "**NO**"} |')
print(f'\nSeed {r["seed"]} (CHAOS_SEED reproduces the schedule); copytruncate/delete drawn while botwatch '
      f'was down, done as rename: {r["copytruncate_or_delete_while_down_done_as_rename"]}.\n')
EOF
fi

if part soak; then
  echo "load and soak: ${SOAK_MINUTES:-10} min ..." >&2
  run_python_part soak <<'EOF'
import json, sys
r = json.loads(sys.argv[1])
print("## Load and soak (release build)\n")
print(f'{r["minutes"]} min: wrk at {r["scrapes_per_s_target"]:g} scrapes/s of /metrics, {r["lines_per_s_target"]} log lines/s, '
      'eight collectors (process, http, tcp, facebook, gemini, socketio against loopback peers; postgres against a real PostgreSQL; exec) at 1 s intervals.\n')
print("| scrapes made | scrapes/s | scrapes failed | p50 ms | p90 ms | p99 ms | lines written | lines counted | RSS min KiB | RSS max KiB | RSS growth after warm-up | fds min | fds max | fds after warm-up | fds at end | collectors up at end | pass |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
up = sum(1 for v in r["collectors_up_at_end"].values() if v == 1)
print(f'| {r["scrapes_made"]} | {r["scrapes_per_s"]} | {r["scrapes_failed"]} | {r["scrape_ms_p50"]} | {r["scrape_ms_p90"]} | {r["scrape_ms_p99"]} | '
      f'{r["lines_written"]} | {r["lines_counted"]} | {r["rss_kib_min"]} | {r["rss_kib_max"]} | {r["rss_growth_after_warmup_pct"]} % | '
      f'{r["fds_min"]} | {r["fds_max"]} | {r["fds_after_warmup"]} | {r["fds_end"]} | {up}/{len(r["collectors_up_at_end"])} | '
      f'{"yes" if r["pass"] else "**NO**"} |')
print("\nRSS and fds every 10 s: " + ", ".join(f'{s["t"]} s: {s["rss_kib"]} KiB/{s["fds"]} fds' for s in r["samples"]) + "\n")
EOF
fi

echo "Total time of scripts/reliability.sh: $(( $(date +%s) - started )) s." >> "$report"
echo >> "$report"
cat "$report"
exit $status
