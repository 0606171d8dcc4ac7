#!/usr/bin/env bash
# Builds the .deb from the build tree, installs it on this machine with dpkg,
# checks the installed layout (including TLS through the installed binary, run
# as the service user) and purges it again, even on failure.
# Needs root: CI runs tests as root; a developer with sudo gets it re-run
# through `sudo -n` (like packaging/install-deps.sh).
# usage: deb_test.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then exec sudo -n -- "$0" "$build"; fi
  echo "deb_test: needs root or passwordless sudo (it installs the .deb with dpkg -i)"; exit 1
fi
if dpkg-query -W -f='${Status}' botwatch 2>/dev/null | grep -q 'ok installed'; then
  echo "deb_test: a botwatch package is already installed here; refusing to touch it"; exit 1
fi

work=$(mktemp -d)
chmod 755 "$work"
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  dpkg --purge botwatch >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "deb_test: $*"; exit 1; }

cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/out" >"$work/cpack.log" 2>&1 || { cat "$work/cpack.log"; fail "cpack failed"; }
deb=$(ls "$work"/out/botwatch_*.deb)
dpkg-deb -f "$deb" Package | grep -qx botwatch
# Every library the binary opens with dlopen (a soname literal in it, which
# dpkg-shlibdeps cannot see) must come from a package named in Depends.
depends=$(dpkg-deb -f "$deb" Depends)
needed=$(readelf -d "$build/botwatch" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort -u)
dlopened=$(strings "$build/botwatch" | grep -E '^lib[a-z0-9_+-]+\.so\.[0-9]+$' | sort -u | comm -23 - <(echo "$needed"))
[ -n "$dlopened" ] || fail "no dlopen'ed soname found in the binary (expected libcurl.so.4, libpq.so.5)"
for soname in $dlopened; do
  # awk reads to the end (no early exit): under pipefail, ldconfig killed by
  # SIGPIPE would end the script without a word.
  path=$(ldconfig -p | awk -v s="$soname" '$1 == s && /x86-64|x86_64|64bit/ && !p {p = $NF} END {print p}')
  [ -n "$path" ] || path=$(ldconfig -p | awk -v s="$soname" '$1 == s && !p {p = $NF} END {print p}')
  [ -n "$path" ] || fail "$soname is not installed on this machine"
  pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | awk -F: 'NR == 1 {print $1}' || true)
  [ -n "$pkg" ] || fail "no package owns $soname ($path)"
  grep -qE "(^|, )$pkg( |,|$)" <<<"$depends" || fail "Depends ($depends) lacks $pkg, which ships $soname"
done
dpkg-deb -I "$deb" conffiles | grep -qx /etc/botwatch/botwatch.yaml || fail "config is not a conffile"
contents=$(dpkg-deb -c "$deb")
for f in ./usr/bin/botwatch ./etc/botwatch/botwatch.yaml ./lib/systemd/system/botwatch.service \
         ./usr/share/botwatch/dashboards/ ./usr/share/botwatch/alerts/; do
  grep -q " $f\$" <<<"$contents" || fail "$f missing from the package"
done

dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg -i failed"; }
/usr/bin/botwatch --version | grep -q "^botwatch [0-9]" || fail "botwatch --version"
/usr/bin/botwatch check-config /etc/botwatch/botwatch.yaml | grep -q ": OK" || fail "check-config"
getent passwd botwatch | grep -q ':/usr/sbin/nologin$' || fail "no system user botwatch"
[ "$(stat -c %U:%G:%a /etc/botwatch/botwatch.yaml)" = root:botwatch:640 ] || fail "config ownership/mode"
# OpenSSL is loaded only when TLS or basic auth is configured (base/lazy_libcrypto.cc, base/lazy_libssl.cc).
if readelf -d /usr/bin/botwatch | grep -qE 'NEEDED.*lib(ssl|crypto)\.so'; then
  fail "botwatch links libssl/libcrypto directly"
fi

# TLS through the installed binary, as the service user.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$work/tls.key" -out "$work/tls.crt" 2>/dev/null
printf 'tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n' > "$work/web.yml"
chown botwatch "$work/tls.key" "$work/web.yml"
runuser -u botwatch -- /usr/bin/botwatch --config.file=/etc/botwatch/botwatch.yaml \
  --web.listen-address=127.0.0.1:0 --web.config.file="$work/web.yml" >"$work/run.log" 2>&1 &
pid=$!
port=
for _ in $(seq 1 100); do
  port=$(sed -n 's/.*msg="botwatch started".* port=\([0-9]*\).*/\1/p' "$work/run.log" 2>/dev/null || true)
  [ -n "$port" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/run.log"; fail "installed botwatch exited"; }
  sleep 0.05
done
[ -n "$port" ] || { cat "$work/run.log"; fail "installed botwatch did not start"; }
curl -fsS --max-time 5 --cacert "$work/tls.crt" "https://127.0.0.1:$port/-/healthy" | grep -qx Healthy \
  || { cat "$work/run.log"; fail "https /-/healthy from the installed binary"; }
kill "$pid"; wait "$pid" || true; pid=

dpkg --purge botwatch >"$work/purge.log" 2>&1 || { cat "$work/purge.log"; fail "purge failed"; }
[ ! -e /usr/bin/botwatch ] || fail "/usr/bin/botwatch left after purge"
[ ! -e /etc/botwatch ] || fail "/etc/botwatch left after purge"
! getent passwd botwatch >/dev/null || fail "user botwatch left after purge"
! getent group botwatch >/dev/null || fail "group botwatch left after purge"
echo "deb OK: $(basename "$deb")"
