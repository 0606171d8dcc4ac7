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
set -eu
umask 077
web_path=${BOTWATCH_WEB_CONFIG_PATH:-/tmp/botwatch-web.yml}
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
exec botwatch run --config.file="${BOTWATCH_CONFIG_FILE:-/etc/botwatch/botwatch.yaml}" ${BOTWATCH_OPTS:-} "$@"
