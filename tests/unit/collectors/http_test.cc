// The http collector against loopback servers: each outcome and its reason.

#include <curl/curl.h>
#include <sys/stat.h>

#include <cmath>
#include <ctime>

#include <catch2/catch.hpp>
#include <mutex>
#include <vector>

#include "agent/config.h"
#include "collectors/http.h"
#include "tests/support/botwatch_process.h"
#include "tests/support/loopback_server.h"
#include "tests/support/probe_helpers.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tls_server.h"

using namespace botwatch;
using namespace botwatch::testing;
using namespace std::chrono_literals;

namespace {

std::shared_ptr<Collector> Build(const std::string& yaml_entry) {
  ConfigSource src;
  src.file = "t.yaml";
  auto r = LoadConfigText("collectors:\n  - " + yaml_entry + "\n", src);
  INFO(r.status().message());
  REQUIRE(r.ok());
  return r.value()->collectors.at(0).collector;
}

double Gauge(const ProbeResult& r, const std::string& name) {
  for (const auto& f : r.families) {
    if (f.name == name) return f.metric.at(0).gauge.value;
  }
  return -1;
}

}  // namespace

TEST_CASE("http: expected status and body make the probe up") {
  LoopbackServer s([](const StubRequest& req) {
    StubResponse r{200, "status: healthy"};
    if (req.Header("Authorization") != "Bearer t0ken") r.status = 401;
    return r;
  });
  auto c = Build("{name: h, type: http, url: '" + s.Url("/health") +
                 "', headers: {Authorization: 'Bearer t0ken'}, body_regex: 'health(y|ier)'}");
  ProbeResult r = Probe(*c);
  CHECK(r.up);
  CHECK(Gauge(r, "botwatch_http_status_code") == 200);
  CHECK(Gauge(r, "botwatch_http_response_body_bytes") == 15);
}

TEST_CASE("http: each failure has its own reason") {
  LoopbackServer s([](const StubRequest& req) {
    if (req.target == "/500") return StubResponse{500, "oops"};
    if (req.target == "/slow") {
      StubResponse r{200, "late"};
      r.delay_ms = 3000;
      return r;
    }
    if (req.target == "/cut") {
      StubResponse r{200, std::string(1000, 'x')};
      r.close_midway = true;
      return r;
    }
    return StubResponse{200, "nothing to see"};
  });

  SECTION("unexpected status") {
    ProbeResult r = Probe(*Build("{name: h, type: http, url: '" + s.Url("/500") + "'}"));
    CHECK_FALSE(r.up);
    CHECK(r.reason == "http_status");
    CHECK(r.message == "unexpected HTTP status 500");
    CHECK(Gauge(r, "botwatch_http_status_code") == 500);
  }
  SECTION("a listed status is accepted") {
    CHECK(Probe(*Build("{name: h, type: http, url: '" + s.Url("/500") + "', valid_status_codes: [500]}")).up);
  }
  SECTION("body mismatch") {
    ProbeResult r = Probe(*Build("{name: h, type: http, url: '" + s.Url("/") + "', body_regex: '^ok$'}"));
    CHECK(r.reason == "body_mismatch");
  }
  SECTION("timeout is bounded by the deadline") {
    auto c = Build("{name: h, type: http, url: '" + s.Url("/slow") + "'}");
    auto start = std::chrono::steady_clock::now();
    ProbeResult r = Probe(*c, 300ms);
    CHECK(std::chrono::steady_clock::now() - start < 1s);
    CHECK(r.reason == "timeout");
  }
  SECTION("peer closes mid-response") {
    ProbeResult r = Probe(*Build("{name: h, type: http, url: '" + s.Url("/cut") + "'}"));
    CHECK_FALSE(r.up);
    CHECK(r.reason == "io");
  }
  SECTION("connection refused") {
    ProbeResult r =
        Probe(*Build("{name: h, type: http, url: 'http://127.0.0.1:" + std::to_string(UnusedPort()) + "/'}"));
    CHECK(r.reason == "connection_refused");
  }
  SECTION("DNS failure") {
    ProbeResult r = Probe(*Build("{name: h, type: http, url: 'http://botwatch-test.invalid/'}"));
    CHECK(r.reason == "dns");
  }
}

TEST_CASE("http: TLS verification is on by default") {
  // Two self-signed servers on 127.0.0.1, certificates made at test time: one
  // names 127.0.0.1 in its subjectAltName, the other only a DNS name.
  TempDir dir;
  const std::string ip_cert = dir.path() + "/ip.crt", ip_key = dir.path() + "/ip.key";
  const std::string named_cert = dir.path() + "/named.crt", named_key = dir.path() + "/named.key";
  MakeSelfSignedCert(ip_cert, ip_key, "IP:127.0.0.1");
  MakeSelfSignedCert(named_cert, named_key, "DNS:bot.botwatch.test");
  TlsLoopbackServer ip(ip_cert, ip_key, "secure ok");
  TlsLoopbackServer named(named_cert, named_key, "secure ok");
  auto http = [](const TlsLoopbackServer& s, const std::string& extra) {
    return Probe(
        *Build("{name: h, type: http, url: '" + s.Url("/health") + "', body_regex: 'secure ok'" + extra + "}"));
  };

  SECTION("default: a self-signed certificate is refused with reason tls") {
    ProbeResult r = http(ip, "");
    CHECK_FALSE(r.up);
    CHECK(r.reason == "tls");
    INFO(r.message);
    CHECK(r.message.find("certificate") != std::string::npos);
    // The server saw the handshake end (it counts after the client has gone)
    // and never got a request over the unverified connection.
    CHECK(Eventually([&] { return ip.handshakes_failed() == 1; }, 2s, 10ms));
    CHECK(ip.requests_answered() == 0);
  }
  SECTION("insecure_skip_verify: true accepts it") {
    ProbeResult r = http(ip, ", insecure_skip_verify: true");
    INFO(r.message);
    CHECK(r.up);
    CHECK(Gauge(r, "botwatch_http_status_code") == 200);
    CHECK(Eventually([&] { return ip.requests_answered() == 1; }, 2s, 10ms));
    // ... even when the name does not match either.
    ProbeResult other = http(named, ", insecure_skip_verify: true");
    INFO(other.message);
    CHECK(other.up);
  }
  SECTION("insecure_skip_verify: false is the default spelled out") {
    CHECK(http(ip, ", insecure_skip_verify: false").reason == "tls");
  }
  SECTION("ca_file naming the certificate makes it trusted") {
    ProbeResult r = http(ip, ", ca_file: '" + ip_cert + "'");
    INFO(r.message);
    CHECK(r.up);
    CHECK(Gauge(r, "botwatch_http_status_code") == 200);
  }
  SECTION("ca_file with another certificate is still refused") {
    ProbeResult r = http(ip, ", ca_file: '" + named_cert + "'");
    CHECK_FALSE(r.up);
    CHECK(r.reason == "tls");
  }
  SECTION("a trusted certificate for another name is refused: the host name is checked too") {
    ProbeResult r = http(named, ", ca_file: '" + named_cert + "'");
    CHECK_FALSE(r.up);
    CHECK(r.reason == "tls");
    INFO(r.message);
    CHECK(r.message.find("127.0.0.1") != std::string::npos);
    CHECK(named.requests_answered() == 0);
  }
  SECTION("an unreadable ca_file is a tls failure, not an accepted certificate") {
    ProbeResult r = http(ip, ", ca_file: '" + dir.path() + "/missing.crt'");
    CHECK_FALSE(r.up);
    CHECK(r.reason == "tls");
  }
}

TEST_CASE("http: the URL's query and header values never reach the message") {
  auto c = Build("{name: h, type: http, url: 'http://127.0.0.1:" + std::to_string(UnusedPort()) +
                 "/?access_token=SEKRIT', headers: {X-Key: HEADERSEKRIT}}");
  ProbeResult r = Probe(*c);
  CHECK_FALSE(r.up);
  CHECK(r.message.find("SEKRIT") == std::string::npos);
}

TEST_CASE("tcp: connect, send and expect") {
  LoopbackServer s([](const StubRequest&) { return StubResponse{200, "pong"}; });
  std::string addr = "127.0.0.1:" + std::to_string(s.port());
  CHECK(Probe(*Build("{name: t, type: tcp, address: '" + addr + "'}")).up);
  ProbeResult ok = Probe(
      *Build("{name: t, type: tcp, address: '" + addr + "', send: \"GET / HTTP/1.0\\r\\n\\r\\n\", expect: 'pong'}"));
  CHECK(ok.up);
  ProbeResult wrong = Probe(
      *Build("{name: t, type: tcp, address: '" + addr + "', send: \"GET / HTTP/1.0\\r\\n\\r\\n\", expect: 'PONG!'}"));
  CHECK(wrong.reason == "body_mismatch");
  ProbeResult refused =
      Probe(*Build("{name: t, type: tcp, address: '127.0.0.1:" + std::to_string(UnusedPort()) + "'}"));
  CHECK(refused.reason == "connection_refused");
}

TEST_CASE("curl error codes map to the bounded reason vocabulary") {
  CHECK(std::string(ReasonForCurlCode(CURLE_OPERATION_TIMEDOUT)) == "timeout");
  CHECK(std::string(ReasonForCurlCode(CURLE_COULDNT_CONNECT)) == "connection_refused");
  CHECK(std::string(ReasonForCurlCode(CURLE_COULDNT_RESOLVE_HOST)) == "dns");
  CHECK(std::string(ReasonForCurlCode(CURLE_PEER_FAILED_VERIFICATION)) == "tls");
}

TEST_CASE("http: configured headers and body never follow a redirect to another origin") {
  // Two loopback servers on different ports are two origins. Each records what
  // reached its /land.
  struct Seen {
    std::mutex mu;
    std::vector<StubRequest> landed;
    void Add(const StubRequest& r) {
      std::lock_guard<std::mutex> lock(mu);
      landed.push_back(r);
    }
    std::vector<StubRequest> Get() {
      std::lock_guard<std::mutex> lock(mu);
      return landed;
    }
  } seen_a, seen_b;
  auto redirect = [](int status, const std::string& to) {
    StubResponse r{status, ""};
    r.headers.emplace_back("Location", to);
    return r;
  };
  std::string a_url;  // set once A listens; B's /back points there
  LoopbackServer b([&](const StubRequest& req) {
    if (req.target == "/back") return redirect(302, a_url + "/land");
    seen_b.Add(req);
    return StubResponse{200, "landed"};
  });
  LoopbackServer a([&](const StubRequest& req) {
    if (req.target == "/cross") return redirect(302, b.Url("/land"));
    if (req.target == "/cross307") return redirect(307, b.Url("/land"));
    if (req.target == "/same") return redirect(302, "/land");
    if (req.target == "/same307") return redirect(307, "/land");
    if (req.target == "/away-and-back") return redirect(302, b.Url("/back"));
    if (req.target == "/loop") return redirect(302, "/loop");
    seen_a.Add(req);
    return StubResponse{200, "landed"};
  });
  a_url = a.Url();
  const std::string secret_headers = "headers: {X-Api-Key: SEKRIT-HEADER-VALUE, Authorization: 'Bearer SEKRIT-AUTH'}";
  auto item = [&](const std::string& path, const std::string& extra = "") {
    return "{name: h, type: http, url: '" + a.Url(path) + "', " + secret_headers + extra + "}";
  };

  SECTION("a redirect to another port: the target sees neither header") {
    ProbeResult r = Probe(*Build(item("/cross")));
    INFO(r.message);
    CHECK(r.up);
    auto landed = seen_b.Get();
    REQUIRE(landed.size() == 1);
    CHECK(landed[0].Header("X-Api-Key").empty());
    CHECK(landed[0].Header("Authorization").empty());
  }
  SECTION("a 307 keeps the method but not the body when it leaves the origin") {
    ProbeResult r = Probe(*Build(item("/cross307", ", method: PUT, body: SEKRIT-BODY")));
    INFO(r.message);
    CHECK(r.up);
    auto landed = seen_b.Get();
    REQUIRE(landed.size() == 1);
    CHECK(landed[0].method == "PUT");
    CHECK(landed[0].body.empty());
    CHECK(landed[0].Header("X-Api-Key").empty());
  }
  SECTION("a redirect within the origin still carries them") {
    ProbeResult r = Probe(*Build(item("/same")));
    CHECK(r.up);
    auto landed = seen_a.Get();
    REQUIRE(landed.size() == 1);
    CHECK(landed[0].Header("X-Api-Key") == "SEKRIT-HEADER-VALUE");
    CHECK(landed[0].Header("Authorization") == "Bearer SEKRIT-AUTH");
  }
  SECTION("a 307 within the origin carries the body too") {
    ProbeResult r = Probe(*Build(item("/same307", ", method: POST, body: SEKRIT-BODY")));
    CHECK(r.up);
    auto landed = seen_a.Get();
    REQUIRE(landed.size() == 1);
    CHECK(landed[0].method == "POST");
    CHECK(landed[0].body == "SEKRIT-BODY");
  }
  SECTION("once the chain has left the origin, coming back does not bring them back") {
    ProbeResult r = Probe(*Build(item("/away-and-back")));
    CHECK(r.up);
    auto landed = seen_a.Get();
    REQUIRE(landed.size() == 1);
    CHECK(landed[0].Header("X-Api-Key").empty());
  }
  SECTION("follow_redirects: false answers with the 3xx itself") {
    ProbeResult r = Probe(*Build(item("/cross", ", follow_redirects: false")));
    CHECK(r.reason == "http_status");
    CHECK(Gauge(r, "botwatch_http_status_code") == 302);
    CHECK(b.requests() == 0);
  }
  SECTION("a redirect loop ends with reason protocol") {
    ProbeResult r = Probe(*Build(item("/loop")));
    CHECK(r.reason == "protocol");
    CHECK(r.message == "more than 10 redirects");
    CHECK(a.requests() == 11);
  }
}

TEST_CASE("http: the origin of a URL is its scheme, host and port") {
  CHECK(UrlOrigin("http://Example.com/x?y") == "http://example.com:80");
  CHECK(UrlOrigin("HTTPS://example.com") == "https://example.com:443");
  CHECK(UrlOrigin("https://user:pw@example.com:8443/") == "https://example.com:8443");
  CHECK(UrlOrigin("http://[::1]:9/") == "http://[::1]:9");
  CHECK(UrlOrigin("http://[::1]/") == "http://[::1]:80");
  CHECK(UrlOrigin("http://example.com:80/") == UrlOrigin("http://example.com/"));
  CHECK(UrlOrigin("http://example.com:8080/") != UrlOrigin("http://example.com/"));
  CHECK(UrlOrigin("ftp://example.com/") == "");
  CHECK(UrlOrigin("/relative") == "");
}

TEST_CASE("http: certificate dates and handshake lines as libcurl reports them") {
  CHECK(ParseCertificateDate("Mar  5 12:00:00 2027 GMT") == 1804248000.0);
  CHECK(ParseCertificateDate("Dec 31 23:59:59 2026 GMT") == 1798761599.0);
  CHECK(ParseCertificateDate("Jan 1 00:00:00.250 2030 GMT") == 1893456000.0);  // fractional seconds
  CHECK_FALSE(ParseCertificateDate("Foo  5 12:00:00 2027 GMT"));
  CHECK_FALSE(ParseCertificateDate("Mar  5 12:00:00 2027 CET"));
  CHECK_FALSE(ParseCertificateDate("Mar  5 12:00 2027 GMT"));
  CHECK_FALSE(ParseCertificateDate("Mar 32 12:00:00 2027 GMT"));
  CHECK_FALSE(ParseCertificateDate("Mar  5 -1:00:00 2027 GMT"));
  CHECK_FALSE(ParseCertificateDate("Mar  5 12:00:00 2027 GMT trailing"));
  CHECK_FALSE(ParseCertificateDate(""));
  CHECK(TlsVersionFromHandshakeLine("SSL connection using TLSv1.3 / TLS_AES_256_GCM_SHA384\n") == "TLS 1.3");
  CHECK(TlsVersionFromHandshakeLine("SSL connection using TLSv1.2 / ECDHE-ECDSA-AES128-GCM-SHA256\n") == "TLS 1.2");
  CHECK(TlsVersionFromHandshakeLine("SSL connection using TLSv / x").empty());
  CHECK(TlsVersionFromHandshakeLine("Connected to 127.0.0.1 (127.0.0.1) port 443").empty());
}

TEST_CASE("http: https probes report the earliest certificate expiry of the presented chain and the TLS version") {
  TempDir dir;
  const double now = static_cast<double>(std::time(nullptr));
  auto days = [&](double d) { return now + d * 86400; };
  auto expiry = [](const ProbeResult& r) { return SampleOf(r, "botwatch_http_tls_cert_expiry_timestamp_seconds"); };
  auto probe = [](const TlsLoopbackServer& s, const std::string& ca) {
    return Probe(*Build("{name: h, type: http, url: '" + s.Url("/") + "', ca_file: '" + ca + "'}"));
  };

  SECTION("a leaf that expires soon") {
    std::string sub = dir.path() + "/soon";
    REQUIRE(::mkdir(sub.c_str(), 0700) == 0);
    CertChain chain = MakeCertChain(sub, "IP:127.0.0.1", 3, 200);
    TlsLoopbackServer server(chain.chain_file, chain.key_file);
    ProbeResult r = probe(server, chain.ca_file);
    INFO(r.message);
    REQUIRE(r.up);
    REQUIRE(expiry(r));
    CHECK(std::abs(*expiry(r) - days(3)) < 600);  // openssl dates the certificate from now
    CHECK(SampleOf(r, "botwatch_http_tls_version_info", {{"version", "TLS 1.3"}}) == 1);
  }
  SECTION("an intermediate that expires before the leaf") {
    std::string sub = dir.path() + "/intermediate";
    REQUIRE(::mkdir(sub.c_str(), 0700) == 0);
    CertChain chain = MakeCertChain(sub, "IP:127.0.0.1", 90, 10);
    TlsLoopbackServer server(chain.chain_file, chain.key_file);
    ProbeResult r = probe(server, chain.ca_file);
    INFO(r.message);
    REQUIRE(r.up);
    REQUIRE(expiry(r));
    CHECK(std::abs(*expiry(r) - days(10)) < 600);
  }
  SECTION("a refused certificate reports no expiry and no version") {
    std::string sub = dir.path() + "/refused";
    REQUIRE(::mkdir(sub.c_str(), 0700) == 0);
    CertChain chain = MakeCertChain(sub, "IP:127.0.0.1", 30, 30);
    TlsLoopbackServer server(chain.chain_file, chain.key_file);
    ProbeResult r = Probe(*Build("{name: h, type: http, url: '" + server.Url("/") + "'}"));  // root not trusted
    CHECK_FALSE(r.up);
    CHECK(r.reason == "tls");
    CHECK_FALSE(expiry(r));
    CHECK(Dump(r).find("botwatch_http_tls_version_info") == std::string::npos);
  }
}

TEST_CASE("http: plain http probes have no TLS families") {
  LoopbackServer s([](const StubRequest&) { return StubResponse{200, "ok"}; });
  ProbeResult r = Probe(*Build("{name: h, type: http, url: '" + s.Url("/") + "'}"));
  REQUIRE(r.up);
  CHECK(Dump(r).find("botwatch_http_tls") == std::string::npos);
}
