#!/usr/bin/env bash
# Benchmark (not a test): botwatch's idle memory and /metrics latency side by
# side with the exporters it replaces, in one run on this machine.
#
#   bench/scrape-vs-exporters.sh [BUILD_DIR] [SCRAPES]
#
# Starts on 127.0.0.1: botwatch with config/botwatch.yaml, Debian's
# prometheus-node-exporter and prometheus-blackbox-exporter. For each: RSS after
# start-up, then SCRAPES sequential GET /metrics with curl (bounded, default 500),
# p50/p99 latency, RSS after. Prints ratios botwatch / peer.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
scrapes=${2:-500}
BOTWATCH_DEPS_EXTRA="prometheus-node-exporter prometheus-blackbox-exporter" ./packaging/install-deps.sh
[ -x "$build/botwatch" ] || { echo "build botwatch first (make build)" >&2; exit 1; }

work=$(mktemp -d /tmp/bw-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss_kb() { awk '/^VmRSS/{print $2}' "/proc/$1/status"; }
wait_up() { for _ in $(seq 200); do curl -fsS -o /dev/null "$1" && return 0; sleep 0.05; done; echo "not up: $1" >&2; return 1; }

# $1 name, $2 pid, $3 url -> prints "name rss_idle_kb rss_after_kb p50_ms p99_ms series"
measure() {
  local name=$1 pid=$2 url=$3
  wait_up "$url"
  sleep 2   # let first probes run
  local idle; idle=$(rss_kb "$pid")
  local series; series=$(curl -fsS "$url" | grep -vc '^#')
  local times="$work/$name.times"
  for _ in $(seq "$scrapes"); do
    curl -fsS -o /dev/null -w '%{time_total}\n' "$url"
  done > "$times"
  local after; after=$(rss_kb "$pid")
  sort -n "$times" | awk -v n="$name" -v i="$idle" -v a="$after" -v s="$series" '
    {v[NR]=$1} END{p50=v[int(NR*0.50)]; p99=v[int(NR*0.99)];
    printf "%s %d %d %.3f %.3f %d\n", n, i, a, p50*1000, p99*1000, s}'
}

bw_port=$(free_port)
"$build/botwatch" --config.file=config/botwatch.yaml --web.listen-address=127.0.0.1:$bw_port \
  --log.level=warn 2>"$work/botwatch.log" & pids+=($!)
bw_pid=$!
ne_port=$(free_port)
prometheus-node-exporter --web.listen-address=127.0.0.1:$ne_port --log.level=warn 2>"$work/ne.log" & pids+=($!)
ne_pid=$!
bb_port=$(free_port)
printf 'modules:\n  http_2xx:\n    prober: http\n' > "$work/bb.yml"
prometheus-blackbox-exporter --config.file="$work/bb.yml" --web.listen-address=127.0.0.1:$bb_port \
  --log.level=warn 2>"$work/bb.log" & pids+=($!)
bb_pid=$!

results="$work/results"
measure botwatch "$bw_pid" "http://127.0.0.1:$bw_port/metrics" > "$results"
measure node_exporter "$ne_pid" "http://127.0.0.1:$ne_port/metrics" >> "$results"
measure blackbox_exporter "$bb_pid" "http://127.0.0.1:$bb_port/metrics" >> "$results"

echo "scrapes per tool: $scrapes (sequential curl on 127.0.0.1)"
printf '%-18s %10s %10s %9s %9s %7s\n' tool rss_idle_MB rss_after_MB p50_ms p99_ms series
awk '{printf "%-18s %10.1f %10.1f %9.3f %9.3f %7d\n", $1, $2/1024, $3/1024, $4, $5, $6}' "$results"
awk 'NR==1{bi=$2; ba=$3; bp=$4; b9=$5} NR>1{printf "botwatch vs %s: RSS idle x%.2f, RSS after x%.2f, scrape p50 x%.2f, p99 x%.2f\n", $1, bi/$2, ba/$3, bp/$4, b9/$5}' "$results"
