// The scrape collector against a real prom-client registry (node
// tests/peers/prom-client/server.js): Prometheus text and OpenMetrics carried
// bit for bit, the clashes resolved, botwatch's own names and oversized answers
// refused, a bearer token sent; and the endpoints that fail: one that hangs,
// one that refuses connections.

#include <catch2/catch.hpp>

#include <cstdlib>
#include <cstring>
#include <regex>
#include <sstream>

#include "tests/support/botwatch_process.h"
#include "tests/support/http_client.h"
#include "tests/support/loopback_server.h"
#include "tests/support/probe_helpers.h"
#include "tests/support/prom_client_peer.h"
#include "tests/support/temp_dir.h"

using namespace botwatch;
using namespace botwatch::testing;
using namespace std::chrono_literals;

namespace {

std::string PeerDir() { return RequirePeerDir(InstallPromClientPeer); }

std::string Item(const std::string& url, const std::string& extra = "") {
  return "{name: bot-metrics, type: scrape, url: '" + url + "'" + extra + "}";
}

uint64_t Bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

// The peer's own sample values of `family`, by label text, as the doubles its
// spelling reads back as.
std::map<std::string, double> PeerValues(const std::string& text, const std::string& family) {
  std::map<std::string, double> out;
  std::regex line("^" + family + "(\\{[^}]*\\})? (\\S+)$");
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    std::smatch m;
    if (std::regex_match(l, m, line)) out[m[1].str()] = std::strtod(m[2].str().c_str(), nullptr);
  }
  return out;
}

}  // namespace

TEST_CASE("scrape: a prom-client registry is carried bit for bit, with clashing labels renamed") {
  TempDir dir;
  PromClientPeer peer(PeerDir(), dir.path());
  REQUIRE(peer.WaitListening());
  ProbeResult r = BuildCollector(Item(peer.Url("/metrics"))).Probe();
  INFO(r.message);
  REQUIRE(r.up);
  HttpResult theirs = HttpGet(peer.Url("/metrics"));
  REQUIRE(theirs.status == 200);

  // Every exact value, by its bits.
  std::map<std::string, double> exact = PeerValues(theirs.body, "demo_exact_value");
  REQUIRE(exact.size() == 6);
  for (const auto& [labels, value] : exact) {
    std::string kase = labels.substr(7, labels.size() - 9);  // {case="..."}
    INFO(kase);
    auto ours = SampleOf(r, "demo_exact_value", {{"case", kase}});
    REQUIRE(ours);
    CHECK(Bits(*ours) == Bits(value));
  }
  CHECK(SampleOf(r, "demo_exact_value", {{"case", "third"}}) == 0.1 + 0.2);
  // The labels botwatch and a scraper add are theirs no more.
  CHECK(SampleOf(r, "demo_messages_total",
                 {{"direction", "inbound"}, {"exported_collector", "theirs"}, {"exported_instance", "pod-7"}}) == 42.0);
  // prom-client's default metrics ride along: the event loop, the heap.
  CHECK(SampleOf(r, "nodejs_eventloop_lag_seconds").has_value());
  CHECK(SampleOf(r, "nodejs_heap_size_total_bytes").value_or(0) > 0);
  // A histogram stays a histogram: five finite buckets, the +Inf one is its count.
  bool histogram = false;
  for (const auto& f : r.families) {
    if (f.name != "demo_reply_seconds") continue;
    histogram = f.type == prometheus::MetricType::Histogram && f.metric.size() == 1 &&
                f.metric[0].histogram.sample_count == 6 && f.metric[0].histogram.bucket.size() == 5 &&
                f.metric[0].histogram.bucket[2].cumulative_count == 4;
  }
  CHECK(histogram);
  // Its own size, counted as max_series counts (one per sample line).
  auto series = SampleOf(r, "botwatch_scrape_series");
  REQUIRE(series);
  size_t lines = 0;
  std::istringstream in(theirs.body);
  for (std::string l; std::getline(in, l);) lines += !l.empty() && l[0] != '#';
  CHECK(*series == static_cast<double>(lines));
  CHECK(SampleOf(r, "botwatch_scrape_status_code") == 200.0);
}

TEST_CASE("scrape: OpenMetrics from prom-client is converted as exec converts it") {
  TempDir dir;
  PromClientPeer peer(PeerDir(), dir.path());
  REQUIRE(peer.WaitListening());
  ProbeResult r = BuildCollector(Item(peer.Url("/openmetrics"))).Probe();
  INFO(r.message);
  REQUIRE(r.up);
  CHECK(SampleOf(r, "demo_om_events_total") == 7.0);
  CHECK(Bits(SampleOf(r, "demo_om_ratio").value_or(0)) == Bits(0.1 + 0.7));
}

TEST_CASE("scrape: botwatch's own names and too many series are refused with one clear line") {
  TempDir dir;
  PromClientPeer peer(PeerDir(), dir.path());
  REQUIRE(peer.WaitListening());
  ProbeResult own = BuildCollector(Item(peer.Url("/botwatch"))).Probe();
  CHECK_FALSE(own.up);
  CHECK(own.reason == "invalid_output");
  CHECK_THAT(own.message, Catch::Contains("botwatch_build_info") && Catch::Contains("reserved for botwatch"));
  CHECK_FALSE(SampleOf(own, "botwatch_build_info").has_value());

  ProbeResult many = BuildCollector(Item(peer.Url("/many?n=21"), ", max_series: 20")).Probe();
  CHECK_FALSE(many.up);
  CHECK(many.reason == "too_many_series");
  CHECK(many.message ==
        "the endpoint exposes more than max_series (20) series; none were kept "
        "(raise max_series, or expose fewer)");
  CHECK_FALSE(SampleOf(many, "demo_many", {{"i", "0"}}).has_value());
  ProbeResult enough = BuildCollector(Item(peer.Url("/many?n=20"), ", max_series: 20")).Probe();
  INFO(enough.message);
  CHECK(enough.up);
  CHECK(SampleOf(enough, "demo_many", {{"i", "19"}}) == 19.0);

  ProbeResult big = BuildCollector(Item(peer.Url("/metrics"), ", max_body_bytes: 1024")).Probe();
  CHECK_FALSE(big.up);
  CHECK(big.reason == "output_too_large");
}

TEST_CASE("scrape: a bearer token is sent and never shown, and a 401 is down") {
  TempDir dir;
  const std::string token = "prom-peer-token-7c1e99d04a";
  PromClientPeer peer(PeerDir(), dir.path(), {"PEER_TOKEN=" + token});
  REQUIRE(peer.WaitListening());
  ProbeResult ok =
      BuildCollector(Item(peer.Url("/private"), ", authorization: {credentials: '" + token + "'}")).Probe();
  INFO(ok.message);
  CHECK(ok.up);
  CHECK(SampleOf(ok, "demo_exact_value", {{"case", "pi"}}).has_value());
  ProbeResult wrong =
      BuildCollector(Item(peer.Url("/private"), ", authorization: {credentials: 'not-" + token + "'}")).Probe();
  CHECK_FALSE(wrong.up);
  CHECK(wrong.reason == "http_status");
  CHECK(SampleOf(wrong, "botwatch_scrape_status_code") == 401.0);
  CHECK(PieceOfSecretIn(Dump(ok) + Dump(wrong), token).empty());
  CHECK(HttpGet(peer.Url("/requests")).body == "{\"with_token\":1,\"without_token\":1}");
}

TEST_CASE("scrape: a hung endpoint is cut at the timeout, a refusing one is down at once") {
  TempDir dir;
  PromClientPeer peer(PeerDir(), dir.path());
  REQUIRE(peer.WaitListening());
  auto started = std::chrono::steady_clock::now();
  ProbeResult hung = BuildCollector(Item(peer.Url("/hang"))).Probe(700ms);
  auto took = std::chrono::steady_clock::now() - started;
  CHECK_FALSE(hung.up);
  CHECK(hung.reason == "timeout");
  CHECK(took >= 600ms);
  CHECK(took < 2s);

  int closed = UnusedPort();
  started = std::chrono::steady_clock::now();
  ProbeResult refused = BuildCollector(Item("http://127.0.0.1:" + std::to_string(closed) + "/metrics")).Probe(5s);
  CHECK_FALSE(refused.up);
  CHECK(refused.reason == "connection_refused");
  CHECK(std::chrono::steady_clock::now() - started < 1s);
}

TEST_CASE("scrape: botwatch serves the carried families beside its own, promtool-clean but for theirs") {
  TempDir dir;
  PromClientPeer peer(PeerDir(), dir.path());
  REQUIRE(peer.WaitListening());
  std::string config =
      dir.Write("bw.yaml", "global: {default_interval: 1s}\ncollectors:\n  - " + Item(peer.Url("/metrics")) + "\n");
  Botwatch bw(config, dir.path());
  REQUIRE(bw.WaitReady());
  std::string metrics = HttpGet(bw.Url("/metrics")).body;
  CHECK(ScrapeValue(metrics, "botwatch_collector_up{collector=\"bot-metrics\",type=\"scrape\"}") == 1.0);
  CHECK(ScrapeValue(metrics, "demo_exact_value{collector=\"bot-metrics\",case=\"third\"}") == 0.1 + 0.2);
  CHECK(metrics.find("demo_exact_value{collector=\"bot-metrics\",case=\"third\"} 0.30000000000000004\n") !=
        std::string::npos);
  // The bot's process_* (prom-client's defaults) beside botwatch's own, told apart by `collector`.
  CHECK(ScrapeValue(metrics, "process_resident_memory_bytes{collector=\"bot-metrics\"}").value_or(0) > 0);
  CHECK(ScrapeValue(metrics, "process_resident_memory_bytes").value_or(0) > 0);
  // promtool parses it all; its only style complaints are about prom-client's
  // own names (gauges named *_total), carried as written, never about botwatch's.
  std::string file = dir.Write("metrics.txt", metrics);
  CommandResult lint = RunCommand({"sh", "-c", "promtool check metrics < '" + file + "'"});
  INFO(lint.output);
  CHECK((lint.exit_code == 0 || lint.exit_code == 3));
  std::string theirs = HttpGet(peer.Url("/metrics")).body;
  std::istringstream complaints(lint.output);
  for (std::string line; std::getline(complaints, line);) {
    if (line.empty() || line[0] == ' ') continue;  // a wrapped message
    std::string name = line.substr(0, line.find(' '));
    INFO(line);
    CHECK(theirs.find("# TYPE " + name + " ") != std::string::npos);
    CHECK(name.rfind("botwatch_", 0) != 0);
  }
}
