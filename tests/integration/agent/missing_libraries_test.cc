// libcurl and libpq are loaded on first use. Where one is missing (a copied
// binary, a slim image without the .deb's dependencies) the operator must read
// which library and which package, not a misleading libcurl or libpq error.
// The library is hidden in a private mount namespace: /dev/null is bound over
// the real file for botwatch alone.

#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <regex>
#include <string>

#include "tests/support/botwatch_process.h"
#include "tests/support/http_client.h"
#include "tests/support/secure_http.h"
#include "tests/support/temp_dir.h"

using namespace botwatch::testing;

namespace {

// Shell lines that make `soname` unloadable in this mount namespace.
std::string Hide(const std::string& soname) {
  return "set -e; p=$(readlink -f \"$(ldconfig -p | awk -v s=" + soname +
         " '$1 == s && !p {p = $NF} END {print p}')\"); test -f \"$p\"; mount --bind /dev/null \"$p\"; ";
}

// botwatch's command line, run with `soname` unloadable.
CommandResult Without(const std::string& soname, const std::string& command) {
  return RunCommand({"/usr/bin/unshare", "--mount", "/bin/sh", "-c", Hide(soname) + "exec " + command});
}

}  // namespace

TEST_CASE("missing libpq: check-config names the library and the package") {
  TempDir dir;
  std::string config = dir.Write(
      "botwatch.yaml", "collectors:\n  - {name: db, type: postgres, dsn: 'host=127.0.0.1 password=hunter2'}\n");
  CommandResult r = Without("libpq.so.5", std::string(BOTWATCH_BINARY) + " check-config " + config);
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("cannot load libpq.so.5 (install Debian's libpq5 package)") != std::string::npos);
  CHECK(r.output.find("not a valid libpq connection string") == std::string::npos);
  CHECK(r.output.find("hunter2") == std::string::npos);
  // And with the library present the same file is fine.
  CommandResult ok = RunCommand({BOTWATCH_BINARY, "check-config", config});
  CHECK(ok.exit_code == 0);
}

namespace {

// botwatch with `library` hidden (only botwatch: this test's own HTTP client
// keeps it) and one collector that needs it: the status API must name the
// library and its Debian package.
void ExpectMissingLibrary(const std::string& collector, const std::string& library, const std::string& expected) {
  TempDir dir;
  std::string config =
      dir.Write("botwatch.yaml", "global: {default_interval: 1s}\ncollectors:\n  - " + collector + "\n");
  ChildProcess bw(
      {"/usr/bin/unshare", "--mount", "/bin/sh", "-c",
       Hide(library) + "exec " + BOTWATCH_BINARY + " --web.listen-address=127.0.0.1:0 --config.file=" + config},
      dir.path() + "/botwatch.log");
  static const std::regex kPort(R"(msg="botwatch started".* port=(\d+))");
  std::smatch m;
  std::string log;
  REQUIRE(Eventually(
      [&] {
        log = bw.Log();
        return std::regex_search(log, m, kPort);
      },
      std::chrono::seconds(10)));
  const std::string status_url = "http://127.0.0.1:" + m[1].str() + "/api/v1/status";
  std::string status;
  CHECK(Eventually(
      [&] {
        status = HttpGet(status_url).body;
        return status.find(expected) != std::string::npos;
      },
      std::chrono::seconds(10)));
  INFO(status);
  bw.Signal(SIGTERM);
  CHECK(bw.WaitExit(std::chrono::seconds(10)).has_value());
}

}  // namespace

TEST_CASE("missing libcurl: an http probe is down with the library and the package named") {
  ExpectMissingLibrary("{name: web, type: http, url: 'http://127.0.0.1:1/'}", "libcurl.so.4",
                       "cannot load libcurl.so.4 (install Debian's libcurl4 package)");
}

TEST_CASE("missing hiredis: a redis probe is down with the library and the package named") {
  ExpectMissingLibrary("{name: cache, type: redis, address: '127.0.0.1:1'}", "libhiredis.so.0.14",
                       "cannot load libhiredis.so.0.14 (install Debian's libhiredis0.14 package)");
}

namespace {

// botwatch serving with `library` hidden; returns its port (0 when it never said).
int StartWithout(ChildProcess& bw) {
  static const std::regex kPort(R"(msg="botwatch started".* port=(\d+))");
  std::smatch m;
  std::string log;
  if (!Eventually(
          [&] {
            log = bw.Log();
            return std::regex_search(log, m, kPort);
          },
          std::chrono::seconds(10)))
    return 0;
  return std::stoi(m[1].str());
}

}  // namespace

TEST_CASE("missing OpenSSL: botwatch without TLS serves, and basic auth still refuses a wrong password") {
  TempDir dir;
  std::string config = dir.Write("botwatch.yaml", "collectors:\n  - {name: self, type: tcp, address: '127.0.0.1:1'}\n");
  std::string web = dir.Write("web.yml", "basic_auth_users:\n  prometheus: '" + BcryptHash("right horse") + "'\n");
  ChildProcess bw({"/usr/bin/unshare", "--mount", "/bin/sh", "-c",
                   Hide("libcrypto.so.3") + "exec " + BOTWATCH_BINARY +
                       " --web.listen-address=127.0.0.1:0 --config.file=" + config + " --web.config.file=" + web},
                  dir.path() + "/botwatch.log");
  const int port = StartWithout(bw);
  INFO(bw.Log());
  REQUIRE(port > 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/metrics";
  SecureRequest good;
  good.url = url;
  good.user = "prometheus";
  good.password = "right horse";
  SecureRequest bad = good;
  bad.password = "wrong horse";
  // Without OpenSSL there is no digest to key the check cache with: every
  // request is a bcrypt check, so a login that succeeded never admits another password.
  CHECK(Fetch(good).status == 200);
  CHECK(Fetch(bad).status == 401);
  CHECK(Fetch(good).status == 200);
  CHECK(Fetch(bad).status == 401);
  CHECK(HttpGet("http://127.0.0.1:" + std::to_string(port) + "/-/healthy").status == 200);
  bw.Signal(SIGTERM);
  CHECK(bw.WaitExit(std::chrono::seconds(10)).has_value());
}

TEST_CASE("missing OpenSSL: a TLS web config names the library and the package") {
  TempDir dir;
  std::string config = dir.Write("botwatch.yaml", "collectors: []\n");
  dir.Write("server.crt", "not read: OpenSSL is missing\n");
  dir.Write("server.key", "not read either\n");
  std::string web = dir.Write("web.yml", "tls_server_config:\n  cert_file: " + dir.path() +
                                             "/server.crt\n  key_file: " + dir.path() + "/server.key\n");
  CommandResult r =
      Without("libcrypto.so.3", std::string(BOTWATCH_BINARY) + " check-config " + config + " --web.config.file=" + web);
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("cannot load libcrypto.so.3 (install Debian's libssl3 package)") != std::string::npos);
}
