#!/usr/bin/env bash
# `make run`: starts botwatch on the bundled example config in the foreground
# and prints where to look. Ctrl-C stops it.
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/.."
addr=${BOTWATCH_LISTEN:-127.0.0.1:10117}
cat <<MSG
botwatch is starting with config/botwatch.yaml on http://$addr
  metrics:     http://$addr/metrics
  status API:  http://$addr/api/v1/status
  status page: http://$addr/
  health:      http://$addr/-/healthy   ready: http://$addr/-/ready
Reload the config with: curl -X POST http://$addr/-/reload   (or kill -HUP)
Press Ctrl-C to stop.
MSG
exec "$build/botwatch" --config.file=config/botwatch.yaml --web.listen-address="$addr"
