// --web.config.file against the real binary: basic auth on every path but
// /-/healthy, TLS with certificates made by the test, mTLS, plain HTTP refused,
// credentials never logged, and the cost of auth on a scrape.

#include <signal.h>

#include <curl/curl.h>

#include <algorithm>
#include <catch2/catch.hpp>

#include "tests/support/botwatch_process.h"
#include "tests/support/http_client.h"
#include "tests/support/loopback_server.h"
#include "tests/support/proc_stats.h"
#include "tests/support/secure_http.h"
#include "tests/support/temp_dir.h"
#include "tests/support/time_scale.h"

using namespace botwatch::testing;
using namespace std::chrono_literals;

namespace {

const char* kConfig =
    "global: {default_interval: 1s}\n"
    "collectors:\n"
    "  - {name: me, type: process, process_name: botwatch}\n";

struct Server {
  Server(const TempDir& dir, const std::string& web_config)
      : bw(dir.Write("botwatch.yaml", kConfig), dir.path(), {"--web.config.file=" + dir.Write("web.yml", web_config)}) {
  }
  Botwatch bw;
};

std::string Url(Botwatch& bw, const std::string& scheme, const std::string& path) {
  return scheme + "://127.0.0.1:" + std::to_string(bw.port()) + path;
}

// The server certificate MakeTestPki writes, as a web config's TLS section.
const std::string kTlsServerConfig = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";

std::string PrometheusUser(const std::string& hash) { return "basic_auth_users:\n  prometheus: " + hash + "\n"; }

// A request for `path` as user `prometheus`.
SecureRequest AsPrometheus(Botwatch& bw, const std::string& scheme, const std::string& path,
                           const std::string& password) {
  SecureRequest q;
  q.url = Url(bw, scheme, path);
  q.user = "prometheus";
  q.password = password;
  return q;
}

// An https request for `path` that verifies the server against the test CA.
SecureRequest TrustingTestCa(Botwatch& bw, const TestPki& pki, const std::string& path) {
  SecureRequest q;
  q.url = Url(bw, "https", path);
  q.ca_file = pki.ca_cert;
  return q;
}

}  // namespace

TEST_CASE("basic auth guards every endpoint except /-/healthy") {
  TempDir dir;
  const std::string password = "s3cret-Pa55word";
  const std::string hash = BcryptHash(password);
  Server s(dir, PrometheusUser(hash));
  Botwatch& bw = s.bw;
  REQUIRE(bw.WaitStarted());
  auto get = [&](const std::string& path, const std::string& user, const std::string& pw,
                 const std::string& method = "GET") {
    SecureRequest q;
    q.url = Url(bw, "http", path);
    q.user = user;
    q.password = pw;
    q.method = method;
    return Fetch(q);
  };
  REQUIRE(Eventually([&] { return get("/-/ready", "prometheus", password).status == 200; }, 10s));

  for (const char* path : {"/metrics", "/api/v1/status", "/-/ready", "/", "/no-such-page"}) {
    INFO(path);
    SecureResult none = get(path, "", "");
    CHECK(none.status == 401);
    CHECK(none.headers.find("WWW-Authenticate: Basic realm=\"botwatch\"") != std::string::npos);
    CHECK(get(path, "prometheus", "wrong").status == 401);
    CHECK(get(path, "nobody", password).status == 401);
  }
  SecureResult metrics = get("/metrics", "prometheus", password);
  CHECK(metrics.status == 200);
  CHECK(metrics.body.find("botwatch_collector_up{collector=\"me\"") != std::string::npos);
  CHECK(get("/api/v1/status", "prometheus", password).status == 200);
  CHECK(get("/-/reload", "", "", "POST").status == 401);
  CHECK(get("/-/reload", "prometheus", password, "POST").status == 200);
  CHECK(get("/-/healthy", "", "").status == 200);
  CHECK(get("/-/healthy", "prometheus", "wrong").status == 200);

  std::string log = bw.process().Log();
  CHECK(log.find("auth=basic") != std::string::npos);
  CHECK(log.find(password) == std::string::npos);
  CHECK(log.find(hash) == std::string::npos);
  CHECK(log.find(hash.substr(29)) == std::string::npos);  // not even the checksum part
}

TEST_CASE("a reload swaps the users") {
  TempDir dir;
  Server s(dir, PrometheusUser(BcryptHash("old")));
  Botwatch& bw = s.bw;
  REQUIRE(bw.WaitStarted());
  auto status = [&](const std::string& pw) { return Fetch(AsPrometheus(bw, "http", "/metrics", pw)).status; };
  REQUIRE(status("old") == 200);
  dir.Write("web.yml", PrometheusUser(BcryptHash("new")));
  bw.process().Signal(SIGHUP);
  REQUIRE(Eventually([&] { return status("new") == 200; }, 5s));
  CHECK(status("old") == 401);  // and the old credentials' cache entry went with them

  // A broken web config on reload keeps the running users.
  dir.Write("web.yml", "basic_auth_users:\n  prometheus: plaintext\n");
  bw.process().Signal(SIGHUP);
  REQUIRE(Eventually([&] { return bw.process().Log().find("web config reload failed") != std::string::npos; }, 5s));
  CHECK(status("new") == 200);
}

TEST_CASE("TLS with a certificate made by the test, plain HTTP refused") {
  TempDir dir;
  TestPki pki = MakeTestPki(dir.path());
  const std::string password = "tls-pw";
  Server s(dir, kTlsServerConfig + PrometheusUser(BcryptHash(password)));
  Botwatch& bw = s.bw;
  REQUIRE(bw.WaitStarted());
  CHECK(bw.process().Log().find("tls=true") != std::string::npos);

  SecureRequest q = AsPrometheus(bw, "https", "/metrics", password);
  q.ca_file = pki.ca_cert;  // verification stays on: the certificate must chain to the test CA
  REQUIRE(Eventually([&] { return Fetch(q).status == 200; }, 10s));
  SecureResult ok = Fetch(q);
  CHECK(ok.body.find("botwatch_build_info") != std::string::npos);

  SecureRequest no_auth = q;
  no_auth.user.clear();
  CHECK(Fetch(no_auth).status == 401);
  SecureRequest healthy = no_auth;
  healthy.url = Url(bw, "https", "/-/healthy");
  CHECK(Fetch(healthy).status == 200);
  // Its path form is as open: no 401, the answer of the endpoint itself.
  healthy.url = Url(bw, "https", "/-/healthy/no-such-collector");
  CHECK(Fetch(healthy).status == 400);

  // An unknown CA fails verification on the client side.
  SecureRequest untrusted = q;
  untrusted.ca_file = pki.rogue_cert;
  SecureResult bad_ca = Fetch(untrusted);
  CHECK(bad_ca.curl_code != 0);
  CHECK(bad_ca.status == 0);

  // Plain HTTP on the TLS port gets no HTTP answer at all.
  SecureRequest plain = q;
  plain.url = Url(bw, "http", "/metrics");
  SecureResult refused = Fetch(plain);
  INFO(refused.error);
  CHECK(refused.curl_code != 0);
  CHECK(refused.status == 0);
  CHECK(refused.body.empty());
  plain.url = Url(bw, "http", "/-/healthy");
  CHECK(Fetch(plain).status == 0);

  // The server still serves TLS after the plain attempt.
  CHECK(Fetch(q).status == 200);

  // A TLS scrape on a new connection costs a handshake, not ~40 ms of Nagle
  // waiting for a delayed ACK between the header and body records. With Nagle
  // every fetch takes 40 ms or more, so the fastest of 15 tells it apart; a
  // loaded machine slows some fetches, rarely all of them. 30 ms leaves room
  // under the 40 ms it guards (scaled for sanitizer builds, which then only
  // check that TLS answers).
  std::vector<double> times;
  for (int i = 0; i < 15; ++i) {
    SecureResult r = Fetch(q);
    REQUIRE(r.status == 200);
    times.push_back(r.seconds);
  }
  std::sort(times.begin(), times.end());
  INFO("fastest " << times.front() * 1000 << " ms, median " << times[times.size() / 2] * 1000 << " ms");
  CHECK(times.front() < std::chrono::duration<double>(TimeBound(0ms, 30ms)).count());
}

TEST_CASE("mTLS: RequireAndVerifyClientCert accepts only clients signed by the client CA") {
  TempDir dir;
  TestPki pki = MakeTestPki(dir.path());
  Server s(dir, kTlsServerConfig +
                    "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n  min_version: TLS12\n");
  Botwatch& bw = s.bw;
  REQUIRE(bw.WaitStarted());
  SecureRequest q = TrustingTestCa(bw, pki, "/metrics");
  q.cert_file = pki.client_cert;
  q.key_file = pki.client_key;
  REQUIRE(Eventually([&] { return Fetch(q).status == 200; }, 10s));

  SecureRequest no_cert = q;
  no_cert.cert_file.clear();
  no_cert.key_file.clear();
  CHECK(Fetch(no_cert).status == 0);

  SecureRequest rogue = q;
  rogue.cert_file = pki.rogue_cert;
  rogue.key_file = pki.rogue_key;
  CHECK(Fetch(rogue).status == 0);

  CHECK(Fetch(q).status == 200);
}

TEST_CASE("tls_server_config min_version and max_version are enforced in the handshake") {
  TempDir dir;
  TestPki pki = MakeTestPki(dir.path());
  auto client = [&](Botwatch& bw, const std::string& min, const std::string& max) {
    SecureRequest q = TrustingTestCa(bw, pki, "/-/healthy");
    q.tls_min = min;
    q.tls_max = max;
    return Fetch(q);
  };

  SECTION("default (TLS12): both a TLS 1.2-only and a TLS 1.3 client get in") {
    Server s(dir, kTlsServerConfig);
    REQUIRE(s.bw.WaitStarted());
    REQUIRE(Eventually([&] { return client(s.bw, "", "").status == 200; }, 10s));
    SecureResult v12 = client(s.bw, "1.2", "1.2");
    INFO(v12.error);
    CHECK(v12.status == 200);
    CHECK(v12.tls_version == "TLSv1.2");
    SecureResult v13 = client(s.bw, "1.3", "1.3");
    CHECK(v13.status == 200);
    CHECK(v13.tls_version == "TLSv1.3");
  }
  SECTION("min_version TLS13: a TLS 1.2-only client is refused in the handshake, TLS 1.3 gets in") {
    Server s(dir, kTlsServerConfig + "  min_version: TLS13\n");
    REQUIRE(s.bw.WaitStarted());
    REQUIRE(Eventually([&] { return client(s.bw, "", "").status == 200; }, 10s));
    SecureResult v12 = client(s.bw, "1.2", "1.2");
    INFO(v12.error);
    CHECK(v12.curl_code == CURLE_SSL_CONNECT_ERROR);
    CHECK(v12.status == 0);
    CHECK(v12.body.empty());
    CHECK(v12.error.find("version") != std::string::npos);  // OpenSSL: "tlsv1 alert protocol version"
    SecureResult v13 = client(s.bw, "1.2", "1.3");          // offers both: the server picks 1.3
    CHECK(v13.status == 200);
    CHECK(v13.tls_version == "TLSv1.3");
    CHECK(client(s.bw, "1.2", "1.2").status == 0);  // still refused, still serving
    CHECK(client(s.bw, "1.3", "1.3").status == 200);
  }
  SECTION("max_version TLS12: a TLS 1.3-only client is refused, TLS 1.2 gets in") {
    Server s(dir, kTlsServerConfig + "  max_version: TLS12\n");
    REQUIRE(s.bw.WaitStarted());
    REQUIRE(Eventually([&] { return client(s.bw, "", "").status == 200; }, 10s));
    SecureResult v13 = client(s.bw, "1.3", "1.3");
    INFO(v13.error);
    CHECK(v13.curl_code == CURLE_SSL_CONNECT_ERROR);
    CHECK(v13.status == 0);
    SecureResult v12 = client(s.bw, "1.2", "1.3");  // offers both: the server picks 1.2
    CHECK(v12.status == 200);
    CHECK(v12.tls_version == "TLSv1.2");
  }
}

TEST_CASE("cipher_suites, curve_preferences and prefer_server_cipher_suites hold in the handshake (openssl s_client)") {
  TempDir dir;
  TestPki pki = MakeTestPki(dir.path());
  // One handshake; stdin at EOF makes s_client print the session and leave.
  auto s_client = [&](Botwatch& bw, const std::string& args) {
    CommandResult r = RunCommand({"/bin/sh", "-c",
                                  "openssl s_client -connect 127.0.0.1:" + std::to_string(bw.port()) + " " + args +
                                      " -CAfile " + pki.ca_cert + " </dev/null 2>&1"},
                                 "", 20s);
    return r.output;
  };
  auto start = [&](Server& s) {
    REQUIRE(s.bw.WaitStarted());
    REQUIRE(Eventually([&] { return Fetch(TrustingTestCa(s.bw, pki, "/-/healthy")).status == 200; }, 10s));
  };
  auto still_serving = [&](Server& s) { CHECK(Fetch(TrustingTestCa(s.bw, pki, "/-/healthy")).status == 200); };
  // MakeTestPki's certificates have P-256 keys, hence the ECDSA suites.
  const std::string suites =
      "  cipher_suites:\n"
      "    - TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384\n"
      "    - TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA\n";

  SECTION("cipher_suites: a listed suite is negotiated, an unlisted one refused, TLS 1.3 unaffected") {
    Server s(dir, kTlsServerConfig + suites);
    start(s);
    std::string listed = s_client(s.bw, "-tls1_2 -cipher ECDHE-ECDSA-AES256-GCM-SHA384");
    INFO(listed);
    CHECK(listed.find("Cipher is ECDHE-ECDSA-AES256-GCM-SHA384") != std::string::npos);
    CHECK(listed.find("Verify return code: 0 (ok)") != std::string::npos);
    // CBC-SHA1 is not in the default list, but exporter-toolkit lets an operator name it.
    std::string cbc = s_client(s.bw, "-tls1_2 -cipher ECDHE-ECDSA-AES128-SHA");
    INFO(cbc);
    CHECK(cbc.find("Cipher is ECDHE-ECDSA-AES128-SHA") != std::string::npos);
    // In the default list, but not in this one.
    std::string unlisted =
        s_client(s.bw, "-tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305");
    INFO(unlisted);
    CHECK(unlisted.find("Cipher is (NONE)") != std::string::npos);
    CHECK(unlisted.find("alert handshake failure") != std::string::npos);
    std::string v13 = s_client(s.bw, "-tls1_3");
    INFO(v13);
    CHECK(v13.find("New, TLSv1.3, Cipher is TLS_") != std::string::npos);
    still_serving(s);
  }
  SECTION("prefer_server_cipher_suites (default true): the server's order wins") {
    Server s(dir, kTlsServerConfig + suites);
    start(s);
    std::string out = s_client(s.bw, "-tls1_2 -cipher ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-GCM-SHA384");
    INFO(out);
    CHECK(out.find("Cipher is ECDHE-ECDSA-AES256-GCM-SHA384") != std::string::npos);
  }
  SECTION("prefer_server_cipher_suites: false: the client's order wins") {
    Server s(dir, kTlsServerConfig + suites + "  prefer_server_cipher_suites: false\n");
    start(s);
    std::string out = s_client(s.bw, "-tls1_2 -cipher ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-GCM-SHA384");
    INFO(out);
    CHECK(out.find("Cipher is ECDHE-ECDSA-AES128-SHA") != std::string::npos);
  }
  SECTION("curve_preferences: a listed curve is negotiated in TLS 1.2 and 1.3, an unlisted one refused") {
    Server s(dir, kTlsServerConfig + "  curve_preferences: [CurveP384]\n");
    start(s);
    // TLS 1.2 also needs the certificate's curve (P-256) among the client's groups.
    std::string v12 = s_client(s.bw, "-tls1_2 -groups P-384:P-256");
    INFO(v12);
    CHECK(v12.find("Server Temp Key: ECDH, secp384r1") != std::string::npos);
    CHECK(v12.find("Cipher is ECDHE-") != std::string::npos);
    std::string v13 = s_client(s.bw, "-tls1_3 -groups P-384");
    INFO(v13);
    CHECK(v13.find("Server Temp Key: ECDH, secp384r1") != std::string::npos);
    // A client offering X25519 first (s_client's default) is asked for P-384 instead.
    std::string retry = s_client(s.bw, "-tls1_3");
    INFO(retry);
    CHECK(retry.find("Server Temp Key: ECDH, secp384r1") != std::string::npos);
    std::string x25519_12 = s_client(s.bw, "-tls1_2 -groups X25519:P-256");
    INFO(x25519_12);
    CHECK(x25519_12.find("Cipher is (NONE)") != std::string::npos);
    CHECK(x25519_12.find("alert handshake failure") != std::string::npos);
    std::string x25519_13 = s_client(s.bw, "-tls1_3 -groups X25519:P-256");
    INFO(x25519_13);
    CHECK(x25519_13.find("Cipher is (NONE)") != std::string::npos);
    CHECK(x25519_13.find("alert handshake failure") != std::string::npos);
    still_serving(s);
  }
}

TEST_CASE("an invalid web config stops start-up with one line naming file:line:col") {
  TempDir dir;
  std::string web = dir.Write("web.yml", "basic_auth_users:\n  prometheus: not-a-hash\n");
  ChildProcess p({BOTWATCH_BINARY, "--config.file=" + dir.Write("botwatch.yaml", kConfig),
                  "--web.listen-address=127.0.0.1:0", "--web.config.file=" + web},
                 dir.path() + "/out.log");
  REQUIRE(p.WaitExit(10s) == 1);
  std::string log = p.Log();
  CHECK(log.find(web + ":2:15: basic_auth_users.prometheus: not a bcrypt hash") != std::string::npos);
  CHECK(log.find("not-a-hash") == std::string::npos);
}

TEST_CASE("auth does not make scrapes slow: verified credentials are cached") {
  TempDir dir;
  // Cost 10 is what `htpasswd -B` makes by default: ~75 ms per check here.
  const std::string password = "scrape-pw";
  Server s(dir, PrometheusUser(BcryptHash(password, 10)));
  Botwatch& bw = s.bw;
  REQUIRE(bw.WaitStarted());
  SecureRequest q = AsPrometheus(bw, "http", "/metrics", password);
  // Counted in CPU time botwatch spends, not in wall-clock time: 30 scrapes
  // that each ran bcrypt would cost 30 checks; cached, a small part of one.
  const pid_t pid = bw.process().pid();
  double cpu0 = CpuSeconds(pid);
  SecureResult first = Fetch(q);
  REQUIRE(first.status == 200);
  double one_check = CpuSeconds(pid) - cpu0;
  double cpu1 = CpuSeconds(pid);
  for (int i = 0; i < 30; ++i) {
    SecureResult r = Fetch(q);
    REQUIRE(r.status == 200);
  }
  double thirty_cached = CpuSeconds(pid) - cpu1;
  WARN("first authorized scrape " << one_check * 1000 << " ms CPU, 30 cached ones " << thirty_cached * 1000
                                  << " ms CPU");
  CHECK(one_check >= 0.02);  // the one bcrypt check
  CHECK(thirty_cached < 5 * one_check);
}

TEST_CASE("check-config validates the web config too, without printing hashes") {
  TempDir dir;
  TestPki pki = MakeTestPki(dir.path());
  std::string config = dir.Write("botwatch.yaml", kConfig);
  std::string hash = BcryptHash("pw");
  std::string good = dir.Write("good.yml",
                               "tls_server_config: {cert_file: server.crt, key_file: server.key}\n"
                               "basic_auth_users: {a: " +
                                   hash + ", b: " + hash + "}\n");
  CommandResult ok = RunCommand({BOTWATCH_BINARY, "check-config", config, "--web.config.file=" + good});
  CHECK(ok.exit_code == 0);
  CHECK(ok.output.find(good + ": OK (TLS, 2 basic auth users)") != std::string::npos);
  CHECK(ok.output.find(hash) == std::string::npos);

  std::string bad = dir.Write("bad.yml", "basic_auth_users:\n  a: " + hash.substr(0, 59) + "\n");
  CommandResult r = RunCommand({BOTWATCH_BINARY, "check-config", config, "--web.config.file=" + bad});
  CHECK(r.exit_code == 1);
  CHECK(r.output.find(bad + ":2:6: basic_auth_users.a: not a bcrypt hash") != std::string::npos);
  CHECK(r.output.find(hash.substr(0, 59)) == std::string::npos);
}

TEST_CASE("a real Prometheus scrapes botwatch over TLS with basic auth") {
  TempDir dir;
  TestPki pki = MakeTestPki(dir.path());
  const std::string password = "prom-scrape-pw";
  Server s(dir, kTlsServerConfig + PrometheusUser(BcryptHash(password)));
  Botwatch& bw = s.bw;
  REQUIRE(bw.WaitStarted());
  std::string target = "127.0.0.1:" + std::to_string(bw.port());
  auto job = [&](const std::string& name, const std::string& scheme, const std::string& pw) {
    return "  - job_name: " + name + "\n    scrape_interval: 1s\n    scrape_timeout: 900ms\n    scheme: " + scheme +
           "\n    tls_config: {ca_file: " + pki.ca_cert + "}\n    basic_auth: {username: prometheus, password: '" + pw +
           "'}\n    static_configs: [{targets: ['" + target + "']}]\n";
  };
  std::string prom_config =
      dir.Write("prometheus.yml", "scrape_configs:\n" + job("good", "https", password) +
                                      job("wrong_password", "https", "nope") + job("plain_http", "http", password));
  int port = UnusedPort();
  ChildProcess prometheus(
      {"/usr/bin/prometheus", "--config.file=" + prom_config, "--storage.tsdb.path=" + dir.path() + "/tsdb",
       "--web.listen-address=127.0.0.1:" + std::to_string(port), "--log.level=warn"},
      dir.path() + "/prometheus.log");
  std::string api = "http://127.0.0.1:" + std::to_string(port) + "/api/v1/query?query=";
  // up per job once every job has been scraped at least once.
  auto up = [&](const std::string& job_name) -> std::optional<std::string> {
    HttpResult r = HttpGet(api + "up%7Bjob%3D%22" + job_name + "%22%7D", 2000);
    size_t v = r.body.find("\"value\":[");
    if (r.status != 200 || v == std::string::npos) return std::nullopt;
    size_t q = r.body.find(",\"", v);
    return r.body.substr(q + 2, 1);
  };
  REQUIRE(Eventually([&] { return up("good") == "1" && up("wrong_password") && up("plain_http"); }, 30s, 200ms));
  CHECK(up("wrong_password") == "0");
  CHECK(up("plain_http") == "0");
  HttpResult info = HttpGet(api + "botwatch_build_info%7Bjob%3D%22good%22%7D", 2000);
  CHECK(info.body.find("\"version\":\"") != std::string::npos);
  HttpResult targets = HttpGet("http://127.0.0.1:" + std::to_string(port) + "/api/v1/targets", 2000);
  CHECK(targets.body.find("401 Unauthorized") != std::string::npos);
  prometheus.Signal(SIGTERM);
  CHECK(prometheus.WaitExit(10s).has_value());
  CHECK(bw.process().Log().find(password) == std::string::npos);
}
