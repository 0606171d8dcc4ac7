#!/usr/bin/env bash
# `make run`: the demo. Starts a throwaway PostgreSQL when this machine has one
# and we are root, then botwatch on config/demo.yaml supervising
# examples/demo-bot (simulated Messenger traffic) as its child:
#   botwatch run --config.file=config/demo.yaml ... -- node examples/demo-bot/src/index.js ...
# The bot logs Winston JSON to its stdout; botwatch feeds that to the log
# pipeline (a `type: child` source) and passes it through to its own stdout,
# which goes to $DEMO_DIR/bot.log. Prints the URLs and stays in the foreground.
# Ctrl-C (or SIGTERM) stops everything it started.
#
#   BOTWATCH_LISTEN   botwatch's address (default 127.0.0.1:10117)
#   DEMO_RATE         simulated inbound messages per second (default 2)
#   DEMO_BOT_PORT     the demo bot's port (default: a free one)
#   DEMO_NO_POSTGRES  set to 1 to skip PostgreSQL
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
case "$build" in /*) ;; *) build="$root/$build" ;; esac
addr=${BOTWATCH_LISTEN:-127.0.0.1:10117}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
say() { printf 'run-demo: %s\n' "$*" >&2; }

bot_dir=examples/demo-bot
if [ ! -f "$bot_dir/node_modules/.package-lock.json" ] || [ "$bot_dir/package-lock.json" -nt "$bot_dir/node_modules/.package-lock.json" ]; then
  say "installing the demo bot's npm packages (npm ci)"
  (cd "$bot_dir" && npm ci --no-audit --no-fund --loglevel=error)
fi

DEMO_DIR=$(mktemp -d /tmp/botwatch-demo.XXXXXX)
chmod 755 "$DEMO_DIR"   # the postgres user must be able to enter it
export DEMO_DIR
export DEMO_BOT_PORT=${DEMO_BOT_PORT:-$(free_port)}
DEMO_PG_PORT=$(free_port)
export DEMO_PG_DSN="host=127.0.0.1 port=$DEMO_PG_PORT user=postgres dbname=postgres connect_timeout=3"

botwatch_pid= pg_bin= pg_up= signalled=
cleanup() {
  trap - INT TERM EXIT
  say "stopping"
  if [ -n "$botwatch_pid" ]; then
    # A terminal's Ctrl-C reached botwatch too (same process group), and it
    # forwards it to the bot: give them time to stop on their own before
    # asking again (a second signal makes the bot quit without finishing).
    if [ "$signalled" = INT ]; then
      for _ in $(seq 50); do kill -0 "$botwatch_pid" 2>/dev/null || break; sleep 0.1; done
    fi
    # botwatch forwards SIGTERM to the bot, waits for it (SIGKILL after 10 s), then exits.
    kill -TERM "$botwatch_pid" 2>/dev/null || true
    wait "$botwatch_pid" 2>/dev/null || true
  fi
  if [ -n "$pg_up" ]; then
    runuser -u postgres -- "$pg_bin/pg_ctl" -D "$DEMO_DIR/pg/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$DEMO_DIR"
}
trap cleanup EXIT
trap 'signalled=INT; exit 130' INT
trap 'signalled=TERM; exit 143' TERM

# PostgreSQL: only as root (the server runs as the postgres user) and when installed.
pg_note="not started"
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ "${DEMO_NO_POSTGRES:-0}" = 1 ]; then
  pg_note="skipped (DEMO_NO_POSTGRES=1)"
elif [ "$(id -u)" -ne 0 ]; then
  pg_note="skipped (needs root to run initdb as the postgres user)"
elif [ -z "$pg_bin" ] || ! id postgres >/dev/null 2>&1; then
  pg_note="skipped (PostgreSQL server not installed: packaging/install-deps.sh installs it)"
else
  mkdir "$DEMO_DIR/pg" && chown postgres:postgres "$DEMO_DIR/pg"
  if runuser -u postgres -- "$pg_bin/initdb" -D "$DEMO_DIR/pg/data" -U postgres -A trust -E UTF8 \
       --locale=C.UTF-8 --no-sync >"$DEMO_DIR/pg/initdb.log" 2>&1 &&
     runuser -u postgres -- "$pg_bin/pg_ctl" -D "$DEMO_DIR/pg/data" -l "$DEMO_DIR/pg/server.log" -w -t 30 \
       -o "-c listen_addresses=127.0.0.1 -p $DEMO_PG_PORT -c unix_socket_directories=$DEMO_DIR/pg -c fsync=off" \
       start >/dev/null 2>&1; then
    pg_up=1
    export DATABASE_URL="postgres://postgres@127.0.0.1:$DEMO_PG_PORT/postgres"
    # The bot's tables exist before botwatch's first query of them (the bot
    # creates them too, but only once it has started).
    node -e 'process.stdout.write(require(process.argv[1]).SCHEMA)' "$root/$bot_dir/src/store.js" |
      psql -q -X -v ON_ERROR_STOP=1 "$DATABASE_URL" >/dev/null ||
      say "could not create the bot's tables ahead of it; the bot creates them when it starts"
    pg_note="postgres://postgres@127.0.0.1:$DEMO_PG_PORT/postgres (throwaway, trust auth)"
  else
    pg_note="failed to start (see the log above); continuing without it"
    cat "$DEMO_DIR/pg/initdb.log" "$DEMO_DIR/pg/server.log" 2>/dev/null | tail -5 >&2 || true
  fi
fi

export INTERNAL_SECRET=${INTERNAL_SECRET:-demo-secret}
# botwatch supervises the bot: restarts it if it fails, forwards signals, and
# reads its stdout (Winston JSON) as the `bot` log source. Its own log goes to
# the terminal (stderr); the bot's output, passed through, to bot.log.
"$build/botwatch" run --config.file=config/demo.yaml --web.listen-address="$addr" \
  --supervise.name=bot --supervise.restart=on-failure --supervise.restart-backoff-max=10s \
  -- node "$bot_dir/src/index.js" --port="$DEMO_BOT_PORT" --rate="${DEMO_RATE:-2}" \
     --pidfile="$DEMO_DIR/bot.pid" --text \
  >"$DEMO_DIR/bot.log" &
botwatch_pid=$!
echo "$botwatch_pid" >"$DEMO_DIR/botwatch.pid"

for _ in $(seq 100); do
  curl -fsS -o /dev/null "http://$addr/-/healthy" 2>/dev/null && break
  kill -0 "$botwatch_pid" 2>/dev/null || { say "botwatch exited during start-up"; exit 1; }
  sleep 0.1
done
for _ in $(seq 150); do
  curl -fsS -o /dev/null "http://127.0.0.1:$DEMO_BOT_PORT/healthz" 2>/dev/null && break
  kill -0 "$botwatch_pid" 2>/dev/null || { say "botwatch exited during start-up"; exit 1; }
  sleep 0.1
done

cat <<MSG

botwatch demo is running
  status page:  http://$addr/
  metrics:      http://$addr/metrics
  status API:   http://$addr/api/v1/status
  demo bot:     http://127.0.0.1:$DEMO_BOT_PORT/healthz  (Socket.io on /socket.io/, auth {service, secret: \$INTERNAL_SECRET})
  bot log:      $DEMO_DIR/bot.log  (the bot's stdout, passed through by botwatch)
  PostgreSQL:   $pg_note
Press Ctrl-C to stop everything.

MSG

# Stay in the foreground until botwatch ends (the bot exited for good) or we
# are signalled.
set +e
wait "$botwatch_pid"
status=$?
say "botwatch exited (status $status)"
exit "$status"
