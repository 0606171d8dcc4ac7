#!/bin/sh
# npm ci in DIR, once per lockfile: the test builds (build/, build-sanitize/)
# share the source tree's node_modules, and `npm ci` first deletes it, so a
# second run starting beside a first one would pull the packages from under
# the first one's running tests. A lock serialises the installs and a stamp
# (the lockfile's checksum) skips them when node_modules already matches.
set -eu
dir=$1
cd "$dir"
exec 9>.npm-ci.lock
flock 9
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f node_modules/.botwatch-lock-sha256 ] && [ "$(cat node_modules/.botwatch-lock-sha256)" = "$want" ]; then
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
echo "$want" > node_modules/.botwatch-lock-sha256
