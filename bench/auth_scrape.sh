#!/usr/bin/env bash
# Scrape latency of /metrics with and without --web.config.file: the first
# authorized request (one bcrypt check, cost 10), later ones (cached), wrong
# passwords (bcrypt every time), TLS on new connections and on keep-alive.
# usage: bench/auth_scrape.sh [BUILD_DIR] [N]      (prints one line per case)
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
n=${2:-200}
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -keyout server.key -out server.crt 2>/dev/null
hash=$(python3 -W ignore -c "import crypt; print(crypt.crypt('s3cret', crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1024)))")
printf 'collectors:\n  - {name: me, type: process, process_name: botwatch}\n' > bw.yaml
: > none.yml
printf 'basic_auth_users:\n  prom: %s\n' "$hash" > auth.yml
{ printf 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n'; cat auth.yml; } > tls.yml

stats() { sort -n | awk '{a[NR]=$1} END{printf "median %.3f ms  p99 %.3f ms", a[int(NR/2)+1]*1000, a[int(NR*0.99)]*1000}'; }
measure() {  # NAME WEBCONFIG SCHEME COUNT CURLARGS...
  local name=$1 web=$2 scheme=$3 count=$4; shift 4
  "$build/botwatch" --config.file=bw.yaml --web.listen-address=127.0.0.1:0 --web.config.file="$web" >bw.log 2>&1 &
  pid=$!
  local port=
  for _ in $(seq 100); do port=$(sed -n 's/.* port=\([0-9]*\).*/\1/p' bw.log); [ -n "$port" ] && break; sleep 0.05; done
  local url=$scheme://127.0.0.1:$port/metrics
  local first
  first=$(curl -sk -o /dev/null -w '%{http_code} %{time_total}' "$@" "$url")
  local fresh keep
  fresh=$(for _ in $(seq "$count"); do curl -sk -o /dev/null -w '%{time_total}\n' "$@" "$url"; done | stats)
  # shellcheck disable=SC2046
  keep=$(curl -sk "$@" -w '%{time_total}\n' $(for _ in $(seq "$count"); do echo "-o /dev/null $url"; done) | stats)
  printf '%-34s first: %s %.1f ms | new connections: %s | keep-alive: %s\n' \
    "$name" "${first% *}" "$(awk -v t="${first#* }" 'BEGIN{print t*1000}')" "$fresh" "$keep"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
}
measure "no web config" none.yml http "$n"
measure "basic auth, right password" auth.yml http "$n" -u prom:s3cret
measure "basic auth, wrong password" auth.yml http 20 -u prom:wrong
measure "TLS (RSA 2048) + basic auth" tls.yml https "$n" -u prom:s3cret
