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
# The second block names a variable that is not set: left out, botwatch starts
# (expanded, ${ABSENT_KEY} would stop it); the first names one that is: kept.
cat > "$work/bw.yaml" <<'YAML'
collectors:
  - {name: me, type: process, process_name: botwatch}
  # if-set: PRESENT_KEY
  - {name: kept, type: tcp, address: "127.0.0.1:${PRESENT_KEY}"}
  # end-if-set
  # if-set: PRESENT_KEY ABSENT_KEY
  - {name: left-out, type: gemini, api_key: "${ABSENT_KEY}", model: m}
  # end-if-set
YAML
hash=$(python3 -W ignore -c "import crypt; print(crypt.crypt('pw', crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))")

# shellcheck disable=SC2016  # the child's shell expands them
PATH="$work/bin:$PATH" BOTWATCH_CONFIG_FILE="$work/bw.yaml" BOTWATCH_OPTS="--web.listen-address=127.0.0.1:0" \
BOTWATCH_WEB_CONFIG_PATH="$work/web.yml" BOTWATCH_WEB_CONFIG="basic_auth_users:
  prometheus: $hash" \
REMOTE_WRITE_PASSWORD='rw-s3cret' REMOTE_WRITE_PASSWORD_FILE="$work/rw-password" \
BOTWATCH_RUN_DIR="$work/run" PRESENT_KEY=9 \
  env -u HOSTNAME -u ABSENT_KEY "$src/packaging/digitalocean/entrypoint.sh" \
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
grep -q '^botwatch-entrypoint: ABSENT_KEY not set: left out the optional block at bw.yaml:6$' "$work/err" \
  || fail "no line about the optional block left out"
status=$(curl -s -u prometheus:pw "http://127.0.0.1:$port/api/v1/status")
case $status in *'"name":"kept"'*) ;; *) fail "the block whose key is set was left out: $status" ;; esac
case $status in *'"name":"left-out"'*) fail "the block whose key is absent was kept" ;; esac
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

# The shipped App Platform config, checked as Dockerfile.bot checks it at image
# build: with its placeholder for every variable (taken from the Dockerfile, so a
# variable missing there fails here), every block, optional ones included. A typo
# in an optional block thus fails the build even though the entrypoint might
# leave the block out at run time.
mkdir "$work/etc"
ln -s "$src/config/presets" "$work/etc/presets"
sed "s|/tmp/botwatch-remote-write-password|$work/rw-check|" "$src/packaging/digitalocean/botwatch.yaml" > "$work/etc/botwatch.yaml"
printf check > "$work/rw-check"
placeholders=$(sed -n 's/^ *\([A-Z_][A-Z0-9_]*=[^ ]*\) \\$/\1/p' "$src/packaging/digitalocean/Dockerfile.bot")
[ -n "$placeholders" ] || fail "no placeholders found in Dockerfile.bot"
check_config() {
  # shellcheck disable=SC2086  # one NAME=value per word
  env -i PATH="$PATH" $placeholders "$binary" check-config "$1" >"$work/check" 2>&1
}
check_config "$work/etc/botwatch.yaml" \
  || { cat "$work/check"; fail "the shipped App Platform config does not pass check-config with Dockerfile.bot's placeholders"; }
sed 's/^    required_scopes:/    required_scope:/' "$work/etc/botwatch.yaml" > "$work/etc/typo.yaml"
cmp -s "$work/etc/typo.yaml" "$work/etc/botwatch.yaml" && fail "the typo was not planted"
if check_config "$work/etc/typo.yaml"; then fail "a typo passed check-config"; fi
grep -q 'typo.yaml:[0-9]*:[0-9]*: collectors\[[0-9]*\]: unknown key "required_scope" (did you mean "required_scopes"?)' "$work/check" \
  || { cat "$work/check"; fail "the typo's error does not name file:line:column and the key"; }
echo "entrypoint OK"
