#!/bin/sh
# Entrypoint of the bot's image on App Platform (no shared disk, no secret files):
# writes the web config from the BOTWATCH_WEB_CONFIG secret to a private file,
# then becomes `botwatch run [BOTWATCH_OPTS] -- <the image's CMD>`.
#   BOTWATCH_WEB_CONFIG       web config YAML (basic_auth_users with bcrypt hashes)
#   BOTWATCH_WEB_CONFIG_PATH  where to write it (default /tmp/botwatch-web.yml)
#   BOTWATCH_CONFIG_FILE      botwatch config (default /etc/botwatch/botwatch.yaml)
#   BOTWATCH_OPTS             more flags, split on spaces
#   REMOTE_WRITE_PASSWORD     remote_write basic auth password: written to
#                             REMOTE_WRITE_PASSWORD_FILE (default
#                             /tmp/botwatch-remote-write-password) for the
#                             config's password_file, and removed from the
#                             environment so the bot never inherits it
#   BOTWATCH_RUN_DIR          where the config botwatch runs on is written
#                             (default /tmp/botwatch): the config file with its
#                             optional blocks resolved (below)
#
# Optional blocks: in the config, the lines from "# if-set: VAR [VAR...]" to
# "# end-if-set" are kept only when every VAR is set and non-empty; otherwise
# they become comments (so line numbers in botwatch's errors stay those of the
# file) and one line on stderr says which block was left out and why. A key the
# operator did not set (FB_PAGE_TOKEN, GEMINI_API_KEY, ...) thus removes its
# check instead of stopping the container; everything outside the blocks is
# used as written, and the image build's `botwatch check-config` (Dockerfile.bot,
# placeholders for every variable) still checks every block, so a typo fails it.
set -eu
umask 077
web_path=${BOTWATCH_WEB_CONFIG_PATH:-/tmp/botwatch-web.yml}
config=${BOTWATCH_CONFIG_FILE:-/etc/botwatch/botwatch.yaml}
run_dir=${BOTWATCH_RUN_DIR:-/tmp/botwatch}
mkdir -p "$run_dir"
effective="$run_dir/$(basename "$config")"
awk -v file="$(basename "$config")" '
  /^[ \t]*# if-set:/ {
    if (open) { print "botwatch-entrypoint: " file ":" NR ": if-set inside the block opened at line " open > "/dev/stderr"; exit 2 }
    open = NR; vars = $0; sub(/^[ \t]*# if-set:[ \t]*/, "", vars)
    n = split(vars, v, /[ \t]+/); missing = ""
    for (i = 1; i <= n; i++) if (v[i] != "" && ENVIRON[v[i]] == "") missing = missing (missing == "" ? "" : ", ") v[i]
    if (missing != "") print "botwatch-entrypoint: " missing " not set: left out the optional block at " file ":" NR > "/dev/stderr"
    skip = missing != ""; print; next
  }
  /^[ \t]*# end-if-set/ { open = 0; skip = 0; print; next }
  { print (skip ? "#" $0 : $0) }
  END { if (open) { print "botwatch-entrypoint: " file ":" open ": if-set without its # end-if-set" > "/dev/stderr"; exit 2 } }
' "$config" > "$effective.tmp"
mv "$effective.tmp" "$effective"
# Relative paths in the config (rules: presets/...) resolve beside it.
presets="$(dirname "$config")/presets"
if [ -d "$presets" ] && [ ! -e "$run_dir/presets" ]; then ln -s "$presets" "$run_dir/presets"; fi
set -- -- "$@"
if [ -n "${REMOTE_WRITE_PASSWORD:-}" ]; then
  printf '%s' "$REMOTE_WRITE_PASSWORD" > "${REMOTE_WRITE_PASSWORD_FILE:-/tmp/botwatch-remote-write-password}"
  unset REMOTE_WRITE_PASSWORD
fi
# The config's `instance: ${HOSTNAME}` tells App Platform replicas apart: each
# container has its own host name, which the container runtime exports; a
# plain sh started another way may not, so make sure it is set.
HOSTNAME=${HOSTNAME:-$(hostname)}
export HOSTNAME
if [ -n "${BOTWATCH_WEB_CONFIG:-}" ]; then
  printf '%s\n' "$BOTWATCH_WEB_CONFIG" > "$web_path"
  set -- --web.config.file="$web_path" "$@"
fi
# shellcheck disable=SC2086  # BOTWATCH_OPTS is a list of flags
exec botwatch run --config.file="$effective" ${BOTWATCH_OPTS:-} "$@"
