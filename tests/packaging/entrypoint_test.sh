#!/usr/bin/env bash
# packaging/digitalocean/entrypoint.sh with the real binary: the web config comes
# from BOTWATCH_WEB_CONFIG (basic auth on), the child's output passes through and
# its exit code is the entrypoint's. The remote_write password goes to a private
# file and not to the child; HOSTNAME (the replica's instance label) is exported.
# usage: entrypoint_test.sh SOURCE_DIR BOTWATCH_BINARY
set -euo pipefail
src=$1 binary=$2
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
fail() { echo "entrypoint_test: $*"; cat "$work/err" 2>/dev/null; exit 1; }
mkdir "$work/bin"
ln -s "$binary" "$work/bin/botwatch"
printf 'collectors:\n  - {name: me, type: process, process_name: botwatch}\n' > "$work/bw.yaml"
hash=$(python3 -W ignore -c "import crypt; print(crypt.crypt('pw', crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))")

# shellcheck disable=SC2016  # the child's shell expands them
PATH="$work/bin:$PATH" BOTWATCH_CONFIG_FILE="$work/bw.yaml" BOTWATCH_OPTS="--web.listen-address=127.0.0.1:0" \
BOTWATCH_WEB_CONFIG_PATH="$work/web.yml" BOTWATCH_WEB_CONFIG="basic_auth_users:
  prometheus: $hash" \
REMOTE_WRITE_PASSWORD='rw-s3cret' REMOTE_WRITE_PASSWORD_FILE="$work/rw-password" \
  env -u HOSTNAME "$src/packaging/digitalocean/entrypoint.sh" \
  sh -c 'echo "child-out pw=${REMOTE_WRITE_PASSWORD-unset} host=${HOSTNAME:+set}"; trap "exit 3" TERM; while :; do sleep 0.02; done' \
  >"$work/out" 2>"$work/err" &
pid=$!
port=
for _ in $(seq 100); do
  port=$(sed -n 's/.*msg="botwatch started".* port=\([0-9]*\).*/\1/p' "$work/err" 2>/dev/null || true)
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] || fail "botwatch did not start"
grep -q 'auth=basic' "$work/err" || fail "web config not applied"
[ "$(cat "$work/rw-password")" = rw-s3cret ] || fail "remote_write password file: $(cat "$work/rw-password")"
[ "$(stat -c %a "$work/rw-password")" = 600 ] || fail "remote_write password file is not private"
[ "$(stat -c %a "$work/web.yml")" = 600 ] || fail "web config file is not private"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/metrics")" = 401 ] || fail "/metrics without auth"
[ "$(curl -s -o /dev/null -w '%{http_code}' -u prometheus:pw "http://127.0.0.1:$port/metrics")" = 200 ] || fail "/metrics with auth"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/-/healthy")" = 200 ] || fail "/-/healthy"
for _ in $(seq 100); do grep -q child-out "$work/out" && break; sleep 0.05; done
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
pid=
[ "$rc" = 3 ] || fail "exit code $rc, want the child's 3"
[ "$(cat "$work/out")" = "child-out pw=unset host=set" ] || fail "stdout: $(cat "$work/out")"
echo "entrypoint OK"
