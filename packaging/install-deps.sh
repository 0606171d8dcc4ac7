#!/usr/bin/env bash
# Installs every build and test dependency of botwatch from Debian's packages.
# Idempotent: when everything is present it only runs dpkg-query and exits.
# Works as root or through sudo. Set BOTWATCH_DEPS_EXTRA="pkg ..." to add more.
# --build-only installs what building and packaging need, not the test peers
# (the container image build uses it). --demo installs what `make run` needs:
# the build, plus node/npm and PostgreSQL for the demo bot, not the test peers
# (Chromium, Prometheus, Alertmanager, ...), which `make test` installs.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake ninja-build pkg-config
  prometheus-cpp-dev libyaml-cpp-dev
  libboost-dev libboost-filesystem-dev
  catch2 libcurl4-openssl-dev libpq-dev libsimdjson-dev nlohmann-json3-dev
  zlib1g-dev libssl-dev libcrypt-dev
  # remote_write (snappy block compression) and the redis collector (hiredis)
  libsnappy-dev libhiredis-dev
  # packaging (cpack's dpkg-shlibdeps)
  dpkg-dev file
)
mode=${1:-all}
if [ "$mode" = "--demo" ]; then
  PACKAGES+=(postgresql curl ca-certificates python3 procps)
  command -v node >/dev/null 2>&1 || PACKAGES+=(nodejs)
  command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)
elif [ "$mode" != "--build-only" ]; then
  PACKAGES+=(
    # tests: real peers and tools on 127.0.0.1
    prometheus prometheus-alertmanager postgresql curl ca-certificates openssl
    # bench/http-under-attack: the exporter-toolkit peer under the same attack
    prometheus-node-exporter
    procps iproute2 python3
    # make format-check (run by make test): the house style of .clang-format
    clang-format
    # tests: systemd-analyze verify for the unit
    systemd
    # tests: render the monitoring mixin (mixin/) and compare with alerts/ and dashboards/
    jsonnet
    # tests: remote_write receivers (VictoriaMetrics; vmagent for bench/push-vs-agents) and redis for the redis collector
    victoria-metrics redis-server
    # tests: the status page in a real headless browser (driven by playwright-core from npm)
    chromium chromium-driver
  )
  # The machine image may carry NodeSource's nodejs (which bundles npm and
  # conflicts with Debian's npm package): only install Debian's when node is absent.
  command -v node >/dev/null 2>&1 || PACKAGES+=(nodejs)
  command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)
fi
# shellcheck disable=SC2206
PACKAGES+=(${BOTWATCH_DEPS_EXTRA:-})

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=(sudo); else
    echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1
  fi
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
