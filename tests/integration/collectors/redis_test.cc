// The redis collector against a real redis-server started by the test on
// 127.0.0.1 (requirepass and an ACL user), with BullMQ's key layout written
// into it.

#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "agent/config.h"
#include "collectors/redis.h"
#include "tests/support/botwatch_process.h"
#include "tests/support/http_client.h"
#include "tests/support/loopback_server.h"
#include "tests/support/node_peer.h"
#include "tests/support/probe_helpers.h"
#include "tests/support/temp_dir.h"
#include "tests/support/time_scale.h"

using namespace botwatch;
using namespace botwatch::testing;
using namespace std::chrono_literals;

namespace {

constexpr const char* kPassword = "s3cret-Pw-7781";
constexpr const char* kBotPassword = "b0t-Pw-4412";

class RedisServer {
 public:
  RedisServer() {
    for (int attempt = 0; attempt < 3; ++attempt) {
      port_ = UnusedPort();
      process_ = std::make_unique<ChildProcess>(
          std::vector<std::string>{"/usr/bin/redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1",
                                   "--save", "", "--appendonly", "no", "--dir", dir_.path(), "--requirepass", kPassword,
                                   "--user", "bot", "on", std::string(">") + kBotPassword, "~*", "+@all"},
          dir_.path() + "/redis.log");
      if (Eventually([&] { return Cli({"PING"}).output == "PONG\n"; }, 5s, 20ms)) return;
      process_.reset();
    }
    throw std::runtime_error("redis-server did not start");
  }
  int port() const { return port_; }
  std::string Address() const { return "127.0.0.1:" + std::to_string(port_); }
  CommandResult Cli(std::vector<std::string> args) const {
    std::vector<std::string> argv = {"/usr/bin/redis-cli", "-h", "127.0.0.1", "-p", std::to_string(port_),
                                     "--no-auth-warning",  "-a", kPassword};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, "", 5s);
  }
  void Signal(int sig) { process_->Signal(sig); }

 private:
  TempDir dir_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

std::shared_ptr<Collector> MakeCollector(const std::string& keys) {
  std::string text = "collectors:\n  - {name: r, type: redis, interval: 5s, timeout: 2s, " + keys + "}\n";
  auto config = LoadConfigText(text, ConfigSource{"test.yaml", "", &ProcessEnv});
  INFO(config.status().message());
  REQUIRE(config.ok());
  return config.value()->collectors.at(0).collector;
}

std::string LoadError(const std::string& keys) {
  std::string text = "collectors:\n  - {name: r, type: redis, interval: 5s, timeout: 2s, " + keys + "}\n";
  auto config = LoadConfigText(text, ConfigSource{"test.yaml", "", &ProcessEnv});
  return config.ok() ? "" : config.status().message();
}

std::string Auth() { return std::string("password: '") + kPassword + "'"; }

}  // namespace

TEST_CASE("redis: server metrics through password authentication") {
  RedisServer redis;
  REQUIRE(redis.Cli({"CONFIG", "SET", "maxmemory", "64mb"}).exit_code == 0);
  REQUIRE(redis.Cli({"MSET", "a", "1", "b", "2", "c", "3"}).exit_code == 0);
  auto c = MakeCollector("address: '" + redis.Address() + "', " + Auth());
  ProbeResult r = Probe(*c);
  INFO(r.message);
  REQUIRE(r.up);
  auto rtt = SampleOf(r, "botwatch_redis_round_trip_seconds");
  REQUIRE(rtt);
  CHECK(*rtt > 0);
  CHECK(*rtt < 0.5);
  CHECK(SampleOf(r, "botwatch_redis_memory_max_bytes") == 64.0 * 1024 * 1024);
  CHECK(SampleOf(r, "botwatch_redis_memory_used_bytes").value_or(0) > 100000);
  CHECK(SampleOf(r, "botwatch_redis_connected_clients").value_or(0) >= 1);
  CHECK(SampleOf(r, "botwatch_redis_evicted_keys_total") == 0.0);
  CHECK(SampleOf(r, "botwatch_redis_keyspace_keys", {{"db", "db0"}}) == 3.0);
  CHECK(SampleOf(r, "botwatch_bullmq_queues_discovered") == 0.0);
}

TEST_CASE("redis: ACL user, wrong password and no password fail as auth without the password") {
  RedisServer redis;
  auto ok = MakeCollector("address: '" + redis.Address() + "', username: bot, password: '" + kBotPassword + "'");
  ProbeResult r = Probe(*ok);
  INFO(r.message);
  CHECK(r.up);

  auto wrong = MakeCollector("address: '" + redis.Address() + "', password: 'Wr0ng-pass-991'");
  r = Probe(*wrong);
  CHECK_FALSE(r.up);
  CHECK(r.reason == "auth");
  CHECK(r.message.find("authentication refused") != std::string::npos);
  CHECK(r.message.find("Wr0ng-pass-991") == std::string::npos);

  auto wrong_user = MakeCollector("address: '" + redis.Address() + "', username: bot, password: '" + kPassword + "'");
  r = Probe(*wrong_user);
  CHECK_FALSE(r.up);
  CHECK(r.reason == "auth");
  CHECK(r.message.find(kPassword) == std::string::npos);

  auto none = MakeCollector("address: '" + redis.Address() + "'");
  r = Probe(*none);
  CHECK_FALSE(r.up);
  CHECK(r.reason == "auth");
  CHECK(r.message.find("NOAUTH") != std::string::npos);
}

TEST_CASE("redis: configuration errors name the field") {
  CHECK(LoadError("address: 'rediss://127.0.0.1:6380'").find("no TLS") != std::string::npos);
  CHECK(LoadError("address: 'rediss://127.0.0.1:6380'").find("address") != std::string::npos);
  CHECK(LoadError("address: 'redis://:pw@127.0.0.1:6380'").find("password") != std::string::npos);
  CHECK(LoadError("address: '127.0.0.1:6380', username: bot").find("username") != std::string::npos);
  CHECK(LoadError("address: '127.0.0.1:0'").find("port") != std::string::npos);
  CHECK(LoadError("address: 'redis://127.0.0.1:6380'").empty());
}

TEST_CASE("redis: BullMQ queues by state, oldest waiting job and repeatable jobs") {
  RedisServer redis;
  double now_ms =
      std::chrono::duration<double, std::milli>(std::chrono::system_clock::now().time_since_epoch()).count();
  auto ms = [&](double seconds_ago) { return std::to_string(static_cast<int64_t>(now_ms - seconds_ago * 1000)); };
  // BullMQ's layout: <prefix>:<queue>:meta (hash), wait/active/paused (lists,
  // pushed at the head), delayed/prioritized/waiting-children/completed/failed
  // (sorted sets), a hash per job with its creation `timestamp` in ms, and the
  // repeat set scored by each repeatable job's next run in ms.
  for (auto cmd : std::vector<std::vector<std::string>>{
           {"HSET", "bull:mail:meta", "opts.maxLenEvents", "10000"},
           {"LPUSH", "bull:mail:wait", "1", "2", "3"},
           {"HSET", "bull:mail:1", "timestamp", ms(120), "name", "send"},
           {"HSET", "bull:mail:3", "timestamp", ms(5), "name", "send"},
           {"LPUSH", "bull:mail:active", "4"},
           {"ZADD", "bull:mail:delayed", "1", "5", "2", "6"},
           {"ZADD", "bull:mail:completed", "1", "7", "2", "8", "3", "9", "4", "10"},
           {"ZADD", "bull:mail:failed", "1", "11"},
           {"ZADD", "bull:mail:prioritized", "1", "12"},
           {"ZADD", "bull:mail:repeat", ms(-3600), "daily-report::::0 1 * * *", ms(600), "hourly:::: 5 * * * *"},
           {"HSET", "bull:idle:meta", "opts.maxLenEvents", "10000"},
           {"HSET", "other:skip:meta", "x", "1"}}) {
    REQUIRE(redis.Cli(cmd).exit_code == 0);
  }
  auto c = MakeCollector("address: '" + redis.Address() + "', " + Auth());
  ProbeResult r = Probe(*c);
  INFO(r.message);
  REQUIRE(r.up);
  CHECK(SampleOf(r, "botwatch_bullmq_queues_discovered") == 2.0);
  auto jobs = [&](const std::string& q, const std::string& state) {
    return SampleOf(r, "botwatch_bullmq_jobs", {{"queue", q}, {"state", state}});
  };
  CHECK(jobs("mail", "waiting") == 3.0);
  CHECK(jobs("mail", "active") == 1.0);
  CHECK(jobs("mail", "delayed") == 2.0);
  CHECK(jobs("mail", "completed") == 4.0);
  CHECK(jobs("mail", "failed") == 1.0);
  CHECK(jobs("mail", "prioritized") == 1.0);
  CHECK(jobs("mail", "paused") == 0.0);
  CHECK(jobs("mail", "waiting-children") == 0.0);
  CHECK(jobs("idle", "waiting") == 0.0);
  CHECK_FALSE(jobs("skip", "waiting").has_value());
  auto oldest = SampleOf(r, "botwatch_bullmq_oldest_waiting_seconds", {{"queue", "mail"}});
  REQUIRE(oldest);
  CHECK(*oldest >= 119);
  CHECK(*oldest < 200);
  CHECK(SampleOf(r, "botwatch_bullmq_oldest_waiting_seconds", {{"queue", "idle"}}) == 0.0);
  auto overdue =
      SampleOf(r, "botwatch_bullmq_repeat_overdue_seconds", {{"queue", "mail"}, {"repeat", "hourly:::: 5 * * * *"}});
  REQUIRE(overdue);
  CHECK(*overdue >= 599);
  CHECK(*overdue < 700);
  CHECK(SampleOf(r, "botwatch_bullmq_repeat_overdue_seconds",
                 {{"queue", "mail"}, {"repeat", "daily-report::::0 1 * * *"}}) == 0.0);

  // max_queues bounds the series: one queue kept, the discovery count still says two.
  auto capped = MakeCollector("address: '" + redis.Address() + "', " + Auth() + ", max_queues: 1");
  r = Probe(*capped);
  REQUIRE(r.up);
  CHECK(SampleOf(r, "botwatch_bullmq_queues_discovered") == 2.0);
  CHECK(jobs("idle", "waiting") == 0.0);
  CHECK_FALSE(jobs("mail", "waiting").has_value());
}

TEST_CASE("redis: real BullMQ jobs, schedulers and a worker: botwatch reports what BullMQ itself counts") {
  std::string error;
  const std::string peer =
      InstallNodePeer("bullmq", {"package.json", "package-lock.json", ".npmrc", "jobs.js"}, "bullmq", &error);
  INFO(error);
  REQUIRE(!peer.empty());
  RedisServer redis;
  // tests/peers/bullmq/jobs.js: a real worker completes one job and fails one,
  // then waiting, delayed and prioritized jobs, two job schedulers and one
  // repeatable job of the older API are added with no worker left running;
  // it prints BullMQ's own getJobCounts(), oldest waiting job and schedulers.
  CommandResult run = RunCommand({"node", peer + "/jobs.js", std::to_string(redis.port()), kPassword}, "", 60s);
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  const nlohmann::json bull = nlohmann::json::parse(run.output.substr(run.output.find('{')));
  INFO(bull.dump());

  auto c = MakeCollector("address: '" + redis.Address() + "', " + Auth());
  ProbeResult r = Probe(*c);
  INFO(r.message);
  REQUIRE(r.up);
  CHECK(SampleOf(r, "botwatch_bullmq_queues_discovered") == 2.0);  // mail, idle
  for (const auto& [state, count] : bull["counts"].items()) {
    const std::string label = state == "wait" ? "waiting" : state;
    INFO(label);
    CHECK(SampleOf(r, "botwatch_bullmq_jobs", {{"queue", "mail"}, {"state", label}}) == count.get<double>());
  }
  // Not vacuous: the worker ran and the jobs are where BullMQ says.
  CHECK(bull["counts"]["completed"] == 1);
  CHECK(bull["counts"]["failed"] == 1);
  CHECK(bull["counts"]["wait"].get<int>() >= 2);
  CHECK(SampleOf(r, "botwatch_bullmq_jobs", {{"queue", "idle"}, {"state", "waiting"}}) == 0.0);

  const double now_ms =
      std::chrono::duration<double, std::milli>(std::chrono::system_clock::now().time_since_epoch()).count();
  auto oldest = SampleOf(r, "botwatch_bullmq_oldest_waiting_seconds", {{"queue", "mail"}});
  REQUIRE(oldest);
  CHECK(std::abs(*oldest - (now_ms - bull["oldest"].get<double>()) / 1000) < 5.0);

  // Each scheduler under the id the bot gave it; the older API's hashed key
  // under its name and pattern.
  std::map<std::string, double> next_by_label;
  for (const auto& s : bull["schedulers"]) {
    std::string key = s["key"];
    std::string label = key.size() == 32 ? s["name"].get<std::string>() + " (5 * * * *)" : key;
    next_by_label[label] = s["next"].get<double>() / 1000;
  }
  REQUIRE(next_by_label.count("daily-report") == 1);
  REQUIRE(next_by_label.count("hourly-sync") == 1);
  REQUIRE(next_by_label.count("digest (5 * * * *)") == 1);
  for (const auto& [label, next] : next_by_label) {
    INFO(label);
    CHECK(SampleOf(r, "botwatch_bullmq_repeat_next_run_timestamp_seconds", {{"queue", "mail"}, {"repeat", label}}) ==
          Approx(next).margin(0.001));
  }
  // "hourly-sync" was due at once and no worker runs: its overdue grows, which
  // is what the BotBullMQSchedulerStalled alert watches.
  std::this_thread::sleep_for(1100ms);
  r = Probe(*c);
  REQUIRE(r.up);
  auto overdue = SampleOf(r, "botwatch_bullmq_repeat_overdue_seconds", {{"queue", "mail"}, {"repeat", "hourly-sync"}});
  REQUIRE(overdue);
  CHECK(*overdue >= 1.0);
  CHECK(SampleOf(r, "botwatch_bullmq_repeat_overdue_seconds", {{"queue", "mail"}, {"repeat", "daily-report"}}) == 0.0);
}

TEST_CASE("redis: a stopped server times out at the probe's deadline") {
  RedisServer redis;
  auto c = MakeCollector("address: '" + redis.Address() + "', " + Auth());
  REQUIRE(Probe(*c).up);
  redis.Signal(SIGSTOP);
  auto start = std::chrono::steady_clock::now();
  ProbeResult r = Probe(*c, 500ms);
  auto took = std::chrono::steady_clock::now() - start;
  redis.Signal(SIGCONT);
  CHECK_FALSE(r.up);
  CHECK(r.reason == "timeout");
  CHECK(took < TimeBound(500ms, 1000ms));  // the deadline, plus a scaled margin
  CHECK(Probe(*c).up);
}

TEST_CASE("redis: through botwatch, a hung server never delays /metrics, reports timeout and recovers") {
  RedisServer redis;
  TempDir dir;
  Botwatch bw(dir.Write("botwatch.yaml",
                        "collectors:\n  - {name: cache, type: redis, interval: 1s, timeout: 500ms, "
                        "address: '" +
                            redis.Address() + "', password: '" + kPassword + "'}\n"),
              dir.path());
  REQUIRE(bw.WaitStarted());
  auto metrics = [&] { return HttpGet(bw.Url("/metrics")).body; };
  const std::string up = "botwatch_collector_up{collector=\"cache\",type=\"redis\"} 1";
  REQUIRE(Eventually([&] { return metrics().find(up) != std::string::npos; }, 10s));

  redis.Signal(SIGSTOP);  // accepts connections (the kernel does) but never answers
  const std::string timed_out =
      "botwatch_collector_errors_total{collector=\"cache\",type=\"redis\",reason=\"timeout\"}";
  std::string text;
  std::chrono::milliseconds slowest{0};
  const auto until = std::chrono::steady_clock::now() + TimeBound(5s, 5s);
  bool reported = false;
  for (int i = 0; i < 200 && !reported && std::chrono::steady_clock::now() < until; ++i) {
    auto start = std::chrono::steady_clock::now();
    HttpResult r = HttpGet(bw.Url("/metrics"));
    slowest = std::max(slowest,
                       std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start));
    REQUIRE(r.status == 200);
    text = r.body;
    reported = text.find(timed_out) != std::string::npos &&
               text.find("botwatch_collector_up{collector=\"cache\",type=\"redis\"} 0") != std::string::npos;
    std::this_thread::sleep_for(50ms);
  }
  redis.Signal(SIGCONT);
  INFO(text);
  CHECK(reported);
  // Scrapes answer from memory: far under the 500 ms a scrape waiting on the
  // probe would take.
  CHECK(slowest < TimeBound(0ms, 300ms));
  CHECK(text.find(kPassword) == std::string::npos);
  CHECK(Eventually([&] { return metrics().find(up) != std::string::npos; }, 10s));
}

TEST_CASE("redis: a closed port is connection_refused") {
  auto c = MakeCollector("address: '127.0.0.1:" + std::to_string(UnusedPort()) + "'");
  ProbeResult r = Probe(*c);
  CHECK_FALSE(r.up);
  CHECK(r.reason == "connection_refused");
}
