// The socketio collector against a real Socket.IO 4 server (node
// tests/peers/socketio/server.js), plus loopback stand-ins for peers that are
// not Socket.IO at all.

#include <catch2/catch.hpp>

#include "tests/support/botwatch_process.h"
#include "tests/support/http_client.h"
#include "tests/support/loopback_server.h"
#include "tests/support/probe_helpers.h"
#include "tests/support/socketio_peer.h"
#include "tests/support/temp_dir.h"

using namespace botwatch;
using namespace botwatch::testing;
using namespace std::chrono_literals;

namespace {

std::string PeerDir() {
  std::string error;
  std::string dir = InstallSocketIoPeer(&error);
  INFO(error);
  REQUIRE(!dir.empty());
  return dir;
}

std::string Item(const std::string& url, const std::string& extra) {
  return "{name: admin, type: socketio, url: '" + url + "'" + extra + "}";
}

const std::string kGoodAuth = ", auth: {service: bot, secret: s3cret-peer}";

}  // namespace

TEST_CASE("socketio: handshake, authenticated namespace connect and close against Socket.IO 4") {
  TempDir dir;
  SocketIoPeer peer(PeerDir(), dir.path());
  REQUIRE(peer.WaitListening());
  std::string nsp_extra;
  SECTION("default namespace") {}
  SECTION("the /admin namespace") { nsp_extra = ", namespace: /admin"; }
  ProbeResult r = BuildCollector(Item(peer.Url(), kGoodAuth + nsp_extra)).Probe();
  INFO(r.message);
  CHECK(r.up);
  CHECK(r.reason == "ok");
  auto handshake = SampleOf(r, "botwatch_socketio_handshake_seconds");
  auto roundtrip = SampleOf(r, "botwatch_socketio_roundtrip_seconds");
  REQUIRE(handshake);
  REQUIRE(roundtrip);
  CHECK(*handshake > 0);
  CHECK(*handshake < 1);
  CHECK(*roundtrip > 0);
  CHECK(*roundtrip < 1);
  CHECK(SampleOf(r, "botwatch_socketio_connected") == 1.0);
  CHECK(SampleOf(r, "botwatch_socketio_ping_interval_seconds") == 25.0);
  CHECK(SampleOf(r, "botwatch_socketio_ping_timeout_seconds") == 20.0);
}

TEST_CASE("socketio: a rejected secret is down with reason connect_error") {
  TempDir dir;
  SocketIoPeer peer(PeerDir(), dir.path());
  REQUIRE(peer.WaitListening());
  std::string extra;
  SECTION("wrong secret") { extra = ", auth: {service: bot, secret: not-the-secret-42}"; }
  SECTION("wrong secret from a file") {
    extra = ", auth: {service: bot, secret_file: '" + dir.Write("secret", "not-the-secret-42\n") + "'}";
  }
  SECTION("no auth at all") {}
  ProbeResult r = BuildCollector(Item(peer.Url(), extra)).Probe();
  CHECK_FALSE(r.up);
  CHECK(r.reason == "connect_error");
  CHECK(r.message == "connect to / refused: unauthorized");
  CHECK(SampleOf(r, "botwatch_socketio_connected") == 0.0);
  CHECK(SampleOf(r, "botwatch_socketio_roundtrip_seconds"));
  CHECK(Dump(r).find("not-the-secret-42") == std::string::npos);
}

TEST_CASE("socketio: connect: false checks the Engine.IO handshake only") {
  TempDir dir;
  SocketIoPeer peer(PeerDir(), dir.path());
  REQUIRE(peer.WaitListening());
  ProbeResult r = BuildCollector(Item(peer.Url(), ", connect: false")).Probe();
  CHECK(r.up);
  CHECK(SampleOf(r, "botwatch_socketio_handshake_seconds"));
  CHECK_FALSE(SampleOf(r, "botwatch_socketio_roundtrip_seconds"));
}

TEST_CASE("socketio: peers that are not Socket.IO are down with a bounded reason") {
  SECTION("nothing listening") {
    ProbeResult r = BuildCollector(Item("http://127.0.0.1:" + std::to_string(UnusedPort()), kGoodAuth)).Probe();
    CHECK(r.reason == "connection_refused");
  }
  SECTION("a plain web server") {
    LoopbackServer web([](const StubRequest&) { return StubResponse{404, "Cannot GET /socket.io/"}; });
    ProbeResult r = BuildCollector(Item(web.Url(), kGoodAuth)).Probe();
    CHECK(r.reason == "protocol");
    CHECK(r.message == "handshake: HTTP 404: Cannot GET /socket.io/");
  }
  SECTION("an Engine.IO v3 server") {
    LoopbackServer old([](const StubRequest&) {
      return StubResponse{400, R"({"code":5,"message":"Unsupported protocol version"})"};
    });
    ProbeResult r = BuildCollector(Item(old.Url(), kGoodAuth)).Probe();
    CHECK(r.reason == "protocol");
  }
  SECTION("a 200 that is not an open packet") {
    LoopbackServer web([](const StubRequest&) { return StubResponse{200, "hello"}; });
    ProbeResult r = BuildCollector(Item(web.Url(), kGoodAuth)).Probe();
    CHECK(r.reason == "protocol");
  }
  SECTION("a server that never answers") {
    LoopbackServer hung([](const StubRequest&) {
      StubResponse s;
      s.hang = true;
      return s;
    });
    auto start = std::chrono::steady_clock::now();
    ProbeResult r = BuildCollector(Item(hung.Url(), kGoodAuth)).Probe(300ms);
    CHECK(r.reason == "timeout");
    CHECK(std::chrono::steady_clock::now() - start < 800ms);
  }
}

TEST_CASE("socketio: config errors name the field") {
  std::string error;
  CHECK_FALSE(BuildCollector("{name: s, type: socketio, url: 'ws://x:1'}", &error).collector);
  CHECK(error.find("collectors[0].url: must start with http:// or https://") != std::string::npos);
  CHECK_FALSE(BuildCollector("{name: s, type: socketio, url: 'http://x:1', namespace: admin}", &error).collector);
  CHECK(error.find("collectors[0].namespace") != std::string::npos);
  CHECK_FALSE(BuildCollector("{name: s, type: socketio, url: 'http://x:1', auth: {secret: [1]}}", &error).collector);
  CHECK(error.find("collectors[0].auth.secret") != std::string::npos);
}

TEST_CASE("socketio: a server killed mid-run turns up to 0 without slowing scrapes, and a restart recovers") {
  TempDir dir;
  std::string peer_dir = PeerDir();
  auto peer = std::make_unique<SocketIoPeer>(peer_dir, dir.path());
  REQUIRE(peer->WaitListening());
  int port = peer->port();
  const std::string kSecret = SocketIoPeer::kSecret;
  std::string config = dir.Write("botwatch.yaml", "collectors:\n  - {name: admin, type: socketio, interval: 500ms, timeout: 400ms, url: '" +
                                                      peer->Url() + "', auth: {service: bot, secret: '" + kSecret + "'}}\n");
  Botwatch bw(config, dir.path(), {"--log.level=debug"});
  REQUIRE(bw.WaitReady());
  const std::string up = "botwatch_collector_up{collector=\"admin\",type=\"socketio\"}";
  auto up_is = [&](double v) { return ScrapeValue(HttpGet(bw.Url("/metrics")).body, up) == v; };
  REQUIRE(Eventually([&] { return up_is(1); }, 5s));

  peer->Kill();
  double slowest = 0;
  bool went_down = Eventually(
      [&] {
        HttpResult m = HttpGet(bw.Url("/metrics"), 1000);
        slowest = std::max(slowest, m.seconds);
        return ScrapeValue(m.body, up) == 0.0;
      },
      5s);
  CHECK(went_down);
  CHECK(slowest < 0.25);
  HttpResult metrics = HttpGet(bw.Url("/metrics"));
  CHECK(metrics.body.find("botwatch_collector_errors_total{collector=\"admin\",type=\"socketio\",reason=\"connection_refused\"}") !=
        std::string::npos);

  peer = std::make_unique<SocketIoPeer>(peer_dir, dir.path(), port);
  REQUIRE(peer->WaitListening());
  CHECK(Eventually([&] { return up_is(1); }, 5s));

  // The auth secret appears nowhere the operator (or an attacker) could read.
  metrics = HttpGet(bw.Url("/metrics"));
  HttpResult status = HttpGet(bw.Url("/api/v1/status"));
  for (const std::string& text : {metrics.body, status.body, bw.process().Log()}) {
    CHECK(text.find(kSecret) == std::string::npos);
  }
  CHECK(ScrapeValue(metrics.body, "botwatch_socketio_roundtrip_seconds{collector=\"admin\"}"));
  CommandResult lint = RunCommand({"promtool", "check", "metrics"}, metrics.body);
  INFO(lint.output);
  CHECK(lint.exit_code == 0);
}
