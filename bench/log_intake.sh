#!/usr/bin/env bash
# Throughput of the two non-file log sources with the shipped preset:
#  - child: `botwatch run -- cat FILE` (type: child source) against the same run
#    without a logs: section (pass-through only), wall and CPU seconds;
#  - http: the same lines POSTed to /api/v1/logs in 1 MiB NDJSON bodies by one
#    curl process (keep-alive is off by design: each answer closes).
# Both check the exact inbound-message count. Not part of `make test`.
# usage: bench/log_intake.sh [BUILD_DIR] [LINES]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
lines=${2:-200000}
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
# Half inbound "message processed", half outbound "message sent", ~170 bytes a line.
awk -v n="$lines" 'BEGIN{for(i=0;i<n;i++){ if(i%2==0) printf "{\"level\":\"info\",\"message\":\"message processed\",\"userId\":\"u%d\",\"responseTime\":%d,\"template\":\"greeting\",\"cacheHit\":true,\"timestamp\":\"2026-11-23T08:00:00.000Z\"}\n", i%1000, i%3000; else printf "{\"level\":\"info\",\"message\":\"message sent\",\"userId\":\"u%d\",\"timestamp\":\"2026-11-23T08:00:00.000Z\"}\n", i%1000 }}' > lines.ndjson
inbound=$(( (lines + 1) / 2 ))
bytes=$(stat -c %s lines.ndjson)
printf 'collectors: []\n' > plain.yaml
printf 'logs:\n  - {name: bot, type: child, format: json, rules: %s/config/presets/messenger-bot.yaml}\n' "$src" > child.yaml
printf 'logs:\n  - {name: remote, type: http, format: json, max_body_bytes: 2097152, rate_limit: {requests_per_second: 100000, burst: 100000}, rules: %s/config/presets/messenger-bot.yaml}\n' "$src" > http.yaml

wait_port() {
  port=
  for _ in $(seq 200); do port=$(sed -n 's/.* port=\([0-9]*\).*/\1/p' bw.log 2>/dev/null || true); [ -n "$port" ] && break; sleep 0.05; done
}
inbound_count() { curl -s "http://127.0.0.1:$port/metrics" | sed -n 's/^bot_messages_total{direction="inbound"} //p'; }
cpu_of() { awk '{print ($14+$15)/100}' "/proc/$1/stat"; }

# Pass-through only (no logs: section): the child's output copied, nothing parsed.
/usr/bin/time -f '%e %U %S %M' -o t.txt "$build/botwatch" run --config.file=plain.yaml \
  --web.listen-address=127.0.0.1:0 -- cat lines.ndjson > out.bin 2>/dev/null
cmp -s out.bin lines.ndjson || { echo "pass-through differs" >&2; exit 1; }
read -r pw pu ps prss < t.txt
printf 'input: %d lines, %d bytes\n' "$lines" "$bytes"
printf 'child  pass-through only : wall %5.2f s  cpu %5.2f s  peak rss %d KB\n' "$pw" "$(echo "$pu + $ps" | bc)" "$prss"

# With the type: child source: time until every inbound line is counted.
start=$(date +%s.%N)
"$build/botwatch" run --config.file=child.yaml --web.listen-address=127.0.0.1:0 \
  -- sh -c 'cat lines.ndjson; while [ ! -e done ]; do sleep 0.01; done' > out.bin 2> bw.log &
pid=$!
wait_port
for _ in $(seq 12000); do [ "$(inbound_count)" = "$inbound" ] && break; sleep 0.01; done
end=$(date +%s.%N)
cpu=$(cpu_of $pid)
rss=$(awk '/VmHWM/{print $2}' /proc/$pid/status)
touch done; wait $pid; pid=
cmp -s out.bin lines.ndjson || { echo "pass-through differs" >&2; exit 1; }
printf 'child  + preset          : wall %5.2f s  cpu %5.2f s  peak rss %d KB  -> %.0f lines/s, inbound counted %d of %d\n' \
  "$(echo "$end - $start" | bc)" "$cpu" "$rss" "$(echo "$lines / ($end - $start)" | bc -l)" "$inbound" "$inbound"

rm -f bw.log
"$build/botwatch" --config.file=http.yaml --web.listen-address=127.0.0.1:0 > bw.log 2>&1 &
pid=$!
wait_port
split -C 1048576 lines.ndjson chunk.
start=$(date +%s.%N)
args=()
for f in chunk.*; do
  [ ${#args[@]} -gt 0 ] && args+=(--next)
  args+=(-s -o /dev/null -w '%{http_code}\n' --data-binary "@$f" "http://127.0.0.1:$port/api/v1/logs")
done
codes=$(curl "${args[@]}" | sort | uniq -c | xargs)
end=$(date +%s.%N)
count=$(inbound_count)
cpu=$(cpu_of $pid)
printf 'http   %d bodies of 1 MiB: %s: wall %.2f s (%.0f lines/s), botwatch cpu %.2f s; inbound counted %s of %d\n' \
  "$(ls chunk.* | wc -l)" "$codes" "$(echo "$end - $start" | bc)" "$(echo "$lines / ($end - $start)" | bc -l)" "$cpu" "$count" "$inbound"
[ "$count" = "$inbound" ] || { echo "count mismatch" >&2; exit 1; }
