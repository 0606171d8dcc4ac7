// remote_write against real receivers started here on 127.0.0.1: Prometheus
// (--web.enable-remote-write-receiver) and VictoriaMetrics, queried back through
// their HTTP APIs; and loopback receivers that answer 429 or 401.

#include <signal.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include "base/unix_time.h"
#include "push/write_request.h"
#include "tests/support/botwatch_process.h"
#include "tests/support/http_client.h"
#include "tests/support/loopback_server.h"
#include "tests/support/temp_dir.h"
#include "tests/support/time_scale.h"
#include "tests/support/write_request_decoder.h"

using namespace botwatch::testing;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

std::unique_ptr<ChildProcess> StartVictoriaMetrics(int port, const std::string& dir) {
  auto p = std::make_unique<ChildProcess>(
      std::vector<std::string>{"/usr/bin/victoria-metrics", "-httpListenAddr=127.0.0.1:" + std::to_string(port),
                               "-storageDataPath=" + dir + "/vm", "-loggerLevel=ERROR"},
      dir + "/vm.log");
  bool up = Eventually([&] { return HttpGet("http://127.0.0.1:" + std::to_string(port) + "/health").status == 200; },
                       20s, 50ms);
  INFO(p->Log());
  REQUIRE(up);
  return p;
}

std::unique_ptr<ChildProcess> StartPrometheus(int port, const TempDir& dir) {
  std::string config = dir.Write("prometheus.yml", "global: {}\n");
  auto p = std::make_unique<ChildProcess>(
      std::vector<std::string>{"/usr/bin/prometheus", "--config.file=" + config,
                               "--storage.tsdb.path=" + dir.path() + "/prom",
                               "--web.listen-address=127.0.0.1:" + std::to_string(port),
                               "--web.enable-remote-write-receiver", "--log.level=error"},
      dir.path() + "/prometheus.log");
  bool up = Eventually([&] { return HttpGet("http://127.0.0.1:" + std::to_string(port) + "/-/ready").status == 200; },
                       30s, 100ms);
  INFO(p->Log());
  REQUIRE(up);
  return p;
}

json GetJson(const std::string& url) {
  HttpResult r = HttpGet(url);
  if (r.status != 200) return json();
  return json::parse(r.body, nullptr, false);
}

// Timestamps (ms) of one series in VictoriaMetrics, through /api/v1/export.
std::vector<int64_t> VmTimestamps(int port, const std::string& selector) {
  HttpResult r = HttpGet("http://127.0.0.1:" + std::to_string(port) + "/api/v1/export?match[]=" + selector);
  std::vector<int64_t> out;
  if (r.status != 200 || r.body.empty()) return out;
  json line = json::parse(r.body.substr(0, r.body.find('\n')), nullptr, false);
  if (!line.is_object()) return out;
  for (const auto& t : line["timestamps"]) out.push_back(t.get<int64_t>());
  std::sort(out.begin(), out.end());
  return out;
}

json RemoteStatus(Botwatch& bw) {
  json s = GetJson(bw.Url("/api/v1/status"));
  if (!s.is_object()) return json();
  return s["data"]["remote_write"];
}

// The le and quantile values of the series Prometheus holds for `name`, or none yet.
std::set<std::string> PointsInPrometheus(const std::string& query_base, const std::string& name, const char* point) {
  std::set<std::string> out;
  json r = GetJson(query_base + "/api/v1/series?match[]=" + name);
  if (!r.is_object() || !r["data"].is_array()) return out;
  for (const auto& s : r["data"]) {
    if (s.contains(point) && s["collector"] == "files") out.insert(s[point].get<std::string>());
  }
  return out;
}

}  // namespace

TEST_CASE("remote_write: series arrive in Prometheus and VictoriaMetrics with the external labels") {
  TempDir dir;
  int vm_port = UnusedPort();
  int prom_port = UnusedPort();
  auto vm = StartVictoriaMetrics(vm_port, dir.path());
  auto prom = StartPrometheus(prom_port, dir);
  std::string config = dir.Write("bw.yaml", "state_dir: " + dir.path() + "/state\n" +
                                                "remote_write:\n"
                                                "  - url: http://127.0.0.1:" +
                                                std::to_string(vm_port) +
                                                "/api/v1/write\n"
                                                "    name: vm\n"
                                                "    interval: 500ms\n"
                                                "    external_labels: {app: it-bot, instance: bot-1}\n"
                                                "  - url: http://127.0.0.1:" +
                                                std::to_string(prom_port) +
                                                "/api/v1/write\n"
                                                "    name: prom\n"
                                                "    interval: 500ms\n"
                                                "    external_labels: {app: it-bot}\n");
  Botwatch bw(config, dir.path());
  REQUIRE(bw.WaitStarted());

  // Prometheus: a histogram's series too (the receiver keeps its le labels).
  std::string prom_q = "http://127.0.0.1:" + std::to_string(prom_port) + "/api/v1/query?query=";
  bool arrived = Eventually(
      [&] {
        json r = GetJson(prom_q + "botwatch_build_info%7Bapp%3D%22it-bot%22%7D");
        return r.is_object() && r["data"]["result"].size() == 1;
      },
      20s, 200ms);
  REQUIRE(arrived);
  json r = GetJson(prom_q + "botwatch_build_info%7Bapp%3D%22it-bot%22%7D");
  const json& metric = r["data"]["result"][0]["metric"];
  CHECK(metric["instance"].get<std::string>().size() > 0);  // the host name by default
  CHECK(metric["job"] == "botwatch");                       // as a scrape by the shipped job would label it
  CHECK(metric.contains("version"));
  // Self metrics of the push itself are pushed, with the remote label.
  REQUIRE(Eventually(
      [&] {
        json s = GetJson(prom_q + "botwatch_remote_write_samples_sent_total%7Bremote%3D%22prom%22%7D");
        return s.is_object() && s["data"]["result"].size() == 1;
      },
      10s, 200ms));

  // VictoriaMetrics: the configured instance, and every series /metrics shows.
  std::string vm_q = "http://127.0.0.1:" + std::to_string(vm_port) + "/api/v1/series?match[]=";
  const std::vector<std::string> names = {"process_resident_memory_bytes", "botwatch_config_last_reload_successful",
                                          "botwatch_remote_write_pending_bytes"};
  auto missing = [&](const json& series) {
    std::string out;
    for (const std::string& name : names) {
      bool found = false;
      for (const auto& s : series["data"]) found = found || s["__name__"] == name;
      if (!found) out += name + " ";
    }
    return out;
  };
  // VictoriaMetrics makes new series searchable a moment after it stores
  // them: wait for the ones checked, not only for "some".
  json series;
  bool all_there = Eventually(
      [&] {
        series = GetJson(vm_q + "%7Bapp%3D%22it-bot%22%7D");
        return series.is_object() && series["data"].size() >= 10 && missing(series).empty();
      },
      20s, 200ms);
  INFO("missing in VictoriaMetrics: " << (series.is_object() ? missing(series) : "(no answer)"));
  CHECK(all_there);
  for (const auto& s : series["data"]) {
    CHECK(s["instance"] == "bot-1");
    CHECK(s["job"] == "botwatch");
  }
  std::string metrics = HttpGet(bw.Url("/metrics")).body;
  for (const std::string& name : names) {
    INFO(name);
    CHECK(metrics.find(name) != std::string::npos);
  }
  json status = RemoteStatus(bw);
  REQUIRE(status.size() == 2);
  CHECK(status[0]["name"] == "vm");
  CHECK(status[0]["buffer"] == "disk");
  CHECK(status[0]["last_success"] != "");
}

TEST_CASE("remote_write: a carried histogram and summary reach Prometheus as the producer spelled le and quantile") {
  TempDir dir;
  int prom_port = UnusedPort();
  auto prom = StartPrometheus(prom_port, dir);
  std::filesystem::create_directories(dir.path() + "/t");
  // 0.10, 1.6384e+06 and 0.50 are spelled otherwise by botwatch (0.1,
  // 1638400, 0.5): Prometheus names a series by the label's text, so pull and
  // push must both keep the producer's.
  dir.Write("t/carried.prom",
            "# HELP carried_latency_seconds A producer's histogram.\n"
            "# TYPE carried_latency_seconds histogram\n"
            "carried_latency_seconds_bucket{le=\"0.10\"} 1\n"
            "carried_latency_seconds_bucket{le=\"1.6384e+06\"} 2\n"
            "carried_latency_seconds_bucket{le=\"+Inf\"} 3\n"
            "carried_latency_seconds_sum 4\n"
            "carried_latency_seconds_count 3\n"
            "# HELP carried_quantiles_seconds A producer's summary.\n"
            "# TYPE carried_quantiles_seconds summary\n"
            "carried_quantiles_seconds{quantile=\"0.50\"} 0.2\n"
            "carried_quantiles_seconds_sum 1\n"
            "carried_quantiles_seconds_count 5\n");
  std::string config = dir.Write("bw.yaml", "state_dir: " + dir.path() + "/state\n" +
                                                "collectors:\n"
                                                "  - {name: files, type: textfile, directory: '" +
                                                dir.path() + "/t'}\n" +
                                                "remote_write:\n"
                                                "  - url: http://127.0.0.1:" +
                                                std::to_string(prom_port) +
                                                "/api/v1/write\n"
                                                "    name: prom\n"
                                                "    interval: 500ms\n");
  Botwatch bw(config, dir.path());
  REQUIRE(bw.WaitReady());
  std::string metrics = HttpGet(bw.Url("/metrics")).body;
  CHECK_THAT(metrics, Catch::Contains("carried_latency_seconds_bucket{collector=\"files\",le=\"1.6384e+06\"} 2\n"));
  CHECK_THAT(metrics, Catch::Contains("carried_quantiles_seconds{collector=\"files\",quantile=\"0.50\"} 0.2\n"));

  const std::set<std::string> buckets = {"0.10", "1.6384e+06", "+Inf"};
  const std::set<std::string> quantiles = {"0.50"};
  std::string base = "http://127.0.0.1:" + std::to_string(prom_port);
  std::set<std::string> pushed_buckets, pushed_quantiles;
  bool arrived = Eventually(
      [&] {
        pushed_buckets = PointsInPrometheus(base, "carried_latency_seconds_bucket", "le");
        pushed_quantiles = PointsInPrometheus(base, "carried_quantiles_seconds", "quantile");
        return pushed_buckets == buckets && pushed_quantiles == quantiles;
      },
      20s, 200ms);
  INFO("le in Prometheus: " << ::Catch::Detail::stringify(pushed_buckets)
                            << ", quantile: " << ::Catch::Detail::stringify(pushed_quantiles));
  CHECK(arrived);
}

TEST_CASE("remote_write: an outage of the receiver and a kill -9 of botwatch leave no hole") {
  TempDir dir;
  int vm_port = UnusedPort();
  auto vm = StartVictoriaMetrics(vm_port, dir.path());
  std::string config = dir.Write("bw.yaml", "state_dir: " + dir.path() + "/state\n" +
                                                "remote_write:\n"
                                                "  - url: http://127.0.0.1:" +
                                                std::to_string(vm_port) +
                                                "/api/v1/write\n"
                                                "    interval: 250ms\n"
                                                "    external_labels: {app: outage}\n");
  // The restarted botwatch gets its own work dir (its own log, where the
  // harness reads the port) and the same state_dir.
  TempDir second_run;
  auto bw = std::make_unique<Botwatch>(config, dir.path());
  REQUIRE(bw->WaitStarted());
  std::this_thread::sleep_for(1500ms);
  double start = botwatch::UnixNow() - 1.0;

  // A 30 s outage of the receiver: botwatch queues to disk, and half-way
  // through dies without warning (kill -9) and comes back.
  vm->Signal(SIGTERM);
  REQUIRE(vm->WaitExit(10s).has_value());
  double down = botwatch::UnixNow();
  std::this_thread::sleep_for(14s);
  json during = RemoteStatus(*bw);
  REQUIRE(during.size() == 1);
  CHECK(during[0]["pending_samples"].get<uint64_t>() > 0);
  CHECK_THAT(during[0]["last_error"].get<std::string>(), Catch::Contains("connection_refused"));
  double killed = botwatch::UnixNow();
  bw->process().Signal(SIGKILL);
  bw->process().WaitExit(5s);
  bw.reset();
  bw = std::make_unique<Botwatch>(config, second_run.path());
  REQUIRE(bw->WaitStarted());
  double restarted = botwatch::UnixNow();
  std::this_thread::sleep_for(std::chrono::duration<double>(std::max(0.0, down + 30 - restarted)));

  vm = StartVictoriaMetrics(vm_port, dir.path());
  REQUIRE(Eventually(
      [&] {
        json s = RemoteStatus(*bw);
        return s.size() == 1 && s[0]["pending_samples"] == 0;
      },
      30s, 100ms));
  std::this_thread::sleep_for(1500ms);
  double end = botwatch::UnixNow() - 1.0;

  std::vector<int64_t> ts;
  // Ask until VictoriaMetrics has made the catch-up searchable.
  Eventually(
      [&] {
        ts = VmTimestamps(vm_port, "botwatch_build_info%7Bapp%3D%22outage%22%7D");
        return !ts.empty() && ts.back() >= static_cast<int64_t>(end * 1000);
      },
      15s, 200ms);
  INFO("outage from " << down - start << "s after start, kill at " << killed - start << "s, restart at "
                      << restarted - start << "s, end " << end - start << "s; samples " << ts.size());
  // Every 1 s window while botwatch ran holds a sample, across the outage too:
  // what was queued before the kill -9 (up to its last 250 ms interval) and
  // everything after the restart arrived, oldest first, once the receiver was back.
  auto has_sample_in = [&](double from) {
    int64_t lo = static_cast<int64_t>(from * 1000), hi = lo + 1000;
    return std::any_of(ts.begin(), ts.end(), [&](int64_t t) { return t >= lo && t < hi; });
  };
  for (double t = start; t + 1 < killed - 0.5; t += 0.5) {
    INFO("window at " << t - start << "s");
    CHECK(has_sample_in(t));
  }
  for (double t = restarted + 0.5; t + 1 < end; t += 0.5) {
    INFO("window at " << t - start << "s");
    CHECK(has_sample_in(t));
  }
  // Every sampling tick arrived, not only one per second: the sampler keeps a
  // 250 ms grid, so consecutive samples while botwatch ran are one interval
  // apart, and a lost tick would leave a gap of two.
  const int64_t max_gap_ms = TimeBound(250ms, 200ms).count();
  auto check_every_tick = [&](double from, double to) {
    int64_t lo = static_cast<int64_t>(from * 1000), hi = static_cast<int64_t>(to * 1000);
    int64_t previous = -1;
    for (int64_t t : ts) {
      if (t < lo || t > hi) continue;
      if (previous >= 0) {
        INFO("samples at " << previous / 1000.0 - start << "s and " << t / 1000.0 - start << "s");
        CHECK(t - previous <= max_gap_ms);
      }
      previous = t;
    }
  };
  check_every_tick(start, killed - 0.5);
  check_every_tick(restarted + 0.5, end);
  // Each sample once: what was sent before the kill is not sent again.
  CHECK(std::adjacent_find(ts.begin(), ts.end()) == ts.end());
}

TEST_CASE("remote_write: a receiver answering 429 with Retry-After, then recovering, gets everything") {
  TempDir dir;
  std::mutex mu;
  std::vector<double> request_times;
  std::vector<int64_t> stored;  // timestamps of botwatch_build_info accepted
  LoopbackServer receiver([&](const StubRequest& req) {
    std::lock_guard<std::mutex> lock(mu);
    request_times.push_back(botwatch::UnixNow());
    StubResponse resp;
    if (request_times.size() <= 3) {
      resp.status = 429;
      resp.headers.emplace_back("Retry-After", "1");
      resp.body = "slow down";
      return resp;
    }
    CHECK(req.Header("Content-Encoding") == "snappy");
    CHECK(req.Header("Content-Type") == "application/x-protobuf");
    CHECK(req.Header("X-Prometheus-Remote-Write-Version") == "0.1.0");
    CHECK_FALSE(req.Header("User-Agent").empty());
    std::string raw;
    REQUIRE(botwatch::SnappyUncompress(req.body, &raw));
    for (const auto& s : Decode(raw)) {
      if (Name(s) == "botwatch_build_info") stored.push_back(s.samples.at(0).second);
    }
    resp.status = 204;
    return resp;
  });
  std::string config = dir.Write("bw.yaml",
                                 "remote_write:\n"
                                 "  - url: " +
                                     receiver.Url("/push") +
                                     "\n"
                                     "    interval: 200ms\n");
  Botwatch bw(config, dir.path());
  REQUIRE(bw.WaitStarted());
  REQUIRE(Eventually(
      [&] {
        json s = RemoteStatus(bw);
        return s.size() == 1 && s[0]["samples_sent"].get<uint64_t>() > 0 && s[0]["pending_samples"] == 0;
      },
      20s, 50ms));
  bw.process().Signal(SIGTERM);
  bw.process().WaitExit(10s);
  std::lock_guard<std::mutex> lock(mu);
  REQUIRE(request_times.size() >= 4);
  // Retry-After: 1 was honoured between the refused attempts.
  for (size_t i = 1; i <= 3; ++i) CHECK(request_times[i] - request_times[i - 1] >= 0.95);
  // Everything taken during the 3 s of 429s arrived, oldest first, with no gap.
  REQUIRE(stored.size() >= 10);
  CHECK(std::is_sorted(stored.begin(), stored.end()));
  for (size_t i = 1; i < stored.size(); ++i) CHECK(stored[i] - stored[i - 1] < 450);
  std::string log = bw.process().Log();
  CHECK_THAT(log, Catch::Contains("HTTP 429"));
}

TEST_CASE("remote_write: bad credentials and a bad host are clear errors, never a crash or a leaked secret") {
  TempDir dir;
  LoopbackServer receiver([&](const StubRequest& req) {
    StubResponse resp;
    // Echoes the credential back, as a careless receiver might.
    resp.status = 401;
    resp.body = "invalid token " + req.Header("Authorization");
    return resp;
  });
  std::string secret_file = dir.Write("token", "tok-SECRET-4711\n");
  std::string config = dir.Write("bw.yaml",
                                 "remote_write:\n"
                                 "  - url: " +
                                     receiver.Url("/push") +
                                     "\n"
                                     "    name: bad-creds\n"
                                     "    interval: 200ms\n"
                                     "    authorization: {credentials_file: " +
                                     secret_file +
                                     "}\n"
                                     "  - url: http://no-such-host.invalid:9/api/v1/write\n"
                                     "    name: bad-host\n"
                                     "    interval: 200ms\n"
                                     "    timeout: 2s\n"
                                     "    basic_auth: {username: u, password: pw-SECRET-0815}\n");
  Botwatch bw(config, dir.path());
  REQUIRE(bw.WaitStarted());
  REQUIRE(Eventually(
      [&] {
        json s = RemoteStatus(bw);
        return s.size() == 2 && !s[0]["last_error"].get<std::string>().empty() &&
               !s[1]["last_error"].get<std::string>().empty();
      },
      15s, 100ms));
  json s = RemoteStatus(bw);
  CHECK_THAT(s[0]["last_error"].get<std::string>(), Catch::Contains("HTTP 401") && Catch::Contains("invalid token"));
  CHECK(s[0]["samples_dropped"].get<uint64_t>() > 0);  // a 401 is not retried
  CHECK_THAT(s[1]["last_error"].get<std::string>(), Catch::Contains("dns"));
  std::string status_body = HttpGet(bw.Url("/api/v1/status")).body;
  std::string metrics = HttpGet(bw.Url("/metrics")).body;
  CHECK_THAT(metrics, Catch::Contains("botwatch_remote_write_samples_dropped_total{remote=\"bad-creds\"}"));
  bw.process().Signal(SIGTERM);
  REQUIRE(bw.process().WaitExit(10s) == 0);
  std::string log = bw.process().Log();
  CHECK_THAT(log, Catch::Contains("HTTP 401"));
  for (const std::string& out : {status_body, metrics, log}) {
    CHECK(out.find("SECRET") == std::string::npos);
    CHECK(out.find("dG9r") == std::string::npos);
  }
}
