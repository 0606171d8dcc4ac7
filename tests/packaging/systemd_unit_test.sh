#!/usr/bin/env bash
# The shipped unit passes `systemd-analyze verify` without a single warning and
# keeps the properties the deployment relies on.
# usage: systemd_unit_test.sh SOURCE_DIR BOTWATCH_BINARY
set -euo pipefail
src=$1 binary=$2
unit=$src/packaging/systemd/botwatch.service
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# verify checks that ExecStart exists: point it at the binary just built.
sed "s#^ExecStart=/usr/bin/botwatch #ExecStart=$binary #" "$unit" > "$work/botwatch.service"
grep -q "^ExecStart=$binary " "$work/botwatch.service"
out=$(systemd-analyze verify "$work/botwatch.service" 2>&1) || { echo "$out"; exit 1; }
if [ -n "$out" ]; then echo "systemd-analyze verify warned:"; echo "$out"; exit 1; fi

# A misspelt key must be reported, or the check above proves nothing.
sed 's/^WatchdogSec=/WatchdogSecs=/' "$work/botwatch.service" > "$work/typo.service"
systemd-analyze verify "$work/typo.service" 2>&1 | grep -q "Unknown key 'WatchdogSecs'"

# shellcheck disable=SC2016  # a literal $MAINPID
for line in 'Type=notify' 'WatchdogSec=30s' 'User=botwatch' 'StateDirectory=botwatch' 'ProtectSystem=strict' \
            'ProtectHome=yes' 'NoNewPrivileges=yes' 'PrivateTmp=yes' 'CapabilityBoundingSet=' \
            'BindReadOnlyPaths=-/var/log/bot' 'ExecReload=/bin/kill -HUP $MAINPID'; do
  grep -qxF "$line" "$unit" || { echo "missing in unit: $line"; exit 1; }
done
echo "unit OK"
