// /api/v1/summary, /api/v1/history and /api/v1/feed of the real binary, fed a
// Winston-style log with the shipped preset.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <regex>
#include <sstream>
#include <thread>
#include <tuple>

#include "tests/support/botwatch_process.h"
#include "tests/support/http_client.h"
#include "tests/support/temp_dir.h"

using namespace botwatch::testing;
using namespace std::chrono_literals;

namespace {

double Now() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

// This test process's age in seconds (it plays the bot), measured without
// the wall clock: /proc/uptime minus the process's start in ticks since boot.
// botwatch derives the bot's start from btime, so the two agree to a second
// or two (btime is whole seconds), however long this process took to load.
double OwnAgeSeconds() {
  std::ifstream uptime_file("/proc/uptime");
  double since_boot = 0;
  uptime_file >> since_boot;
  std::ifstream stat_file("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));  // after "pid (comm) "
  std::string field;
  for (int i = 3; i <= 22; ++i) fields >> field;  // field 22: starttime
  return since_boot - std::stod(field) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::string Iso(double unix_seconds) {
  auto secs = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
  return buf;
}

std::string Processed(double t, const std::string& user, int response_ms, const std::string& text = "hi") {
  return R"({"level":"info","message":"message processed","userId":")" + user + R"(","responseTime":)" +
         std::to_string(response_ms) + R"(,"template":"greeting","cacheHit":true,"direction":"inbound","text":")" +
         text + R"(","timestamp":")" + Iso(t) + "\"}\n";
}

std::string Config(const std::string& dir, const std::string& extra = "") {
  return "global: {default_interval: 1s, scrape_timeout: 500ms}\n"
         "collectors:\n"
         "  - {name: bot, type: process, pidfile: " +
         dir +
         "/bot.pid}\n"
         "logs:\n"
         "  - name: bot\n"
         "    path: " +
         dir +
         "/bot.log\n"
         "    format: json\n"
         "    start_at: beginning\n"
         "    poll_interval: 10ms\n"
         "    rules: " BOTWATCH_SOURCE_DIR "/config/presets/messenger-bot.yaml\n" +
         extra;
}

void Append(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::app);
  out << text;
}

// A minimal SSE client over a raw socket: everything read so far.
class SseClient {
 public:
  SseClient(int port, const std::string& last_event_id = "") {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    std::string req = "GET /api/v1/feed HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n";
    if (!last_event_id.empty()) req += "Last-Event-ID: " + last_event_id + "\r\n";
    req += "\r\n";
    REQUIRE(send(fd_, req.data(), req.size(), 0) == static_cast<ssize_t>(req.size()));
  }
  ~SseClient() { close(fd_); }
  // Reads until `re` matches what was received, for at most `timeout`.
  bool WaitFor(const std::regex& re, std::chrono::milliseconds timeout) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (!std::regex_search(text_, re)) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return std::regex_search(text_, re);
      text_.append(buf, static_cast<size_t>(n));
    }
    return true;
  }
  const std::string& text() const { return text_; }

 private:
  int fd_ = -1;
  std::string text_;
};

}  // namespace

TEST_CASE("summary: numbers from a fixture log with known answers") {
  TempDir dir;
  double now = Now();
  std::string log;
  // 3 messages in the last hour (users a, b, a), 4 earlier today (c, d, c, e),
  // 3 two days ago (f, g, a): response times 100..1000 ms.
  int ms = 100;
  for (auto [age, user] : std::vector<std::pair<double, std::string>>{{60, "a"},
                                                                      {600, "b"},
                                                                      {1800, "a"},
                                                                      {3 * 3600, "c"},
                                                                      {4 * 3600, "d"},
                                                                      {5 * 3600, "c"},
                                                                      {6 * 3600, "e"},
                                                                      {2 * 86400, "f"},
                                                                      {2 * 86400 + 60, "g"},
                                                                      {2 * 86400 + 120, "a"}}) {
    log += Processed(now - age, "user-" + user, ms);
    log += R"({"level":"info","message":"message sent","userId":"user-)" + user +
           R"(","direction":"outbound","timestamp":")" + Iso(now - age) + "\"}\n";
    ms += 100;
  }
  log += R"({"level":"warn","message":"retrying send","errorType":"graph_api","timestamp":")" + Iso(now) + "\"}\n";
  log += "not json at all\n";
  dir.Write("bot.log", log);
  dir.Write("bot.pid", std::to_string(getpid()) + "\n");
  Botwatch bw(dir.Write("botwatch.yaml", Config(dir.path())), dir.path());
  REQUIRE(bw.WaitReady());

  nlohmann::json s;
  REQUIRE(Eventually(
      [&] {
        HttpResult r = HttpGet(bw.Url("/api/v1/summary"));
        if (r.status != 200) return false;
        s = nlohmann::json::parse(r.body);
        return s["messages"]["total"] == 10 && s["system"]["cpu_percent"].is_number();
      },
      10s));
  INFO(s.dump());
  CHECK(s["messages"]["last_hour"] == 3);
  CHECK(s["messages"]["last_24h"] == 7);
  CHECK(s["messages"]["avg_response_time"] == 550.0);  // (100 + ... + 1000) / 10
  CHECK(s["users"]["active_today"] == 5);              // a b c d e
  CHECK(s["users"]["active_this_week"] == 7);          // and f g
  CHECK(s["users"]["total"] == 7);
  CHECK(s["system"]["memory_mb"].get<double>() > 1);  // this test process, as "the bot"
  CHECK(s["system"]["cpu_percent"].get<double>() >= 0);
  CHECK(s["system"]["cpu_percent"].get<double>() <= 100.0 * std::thread::hardware_concurrency());
  CHECK(s["system"]["database_connections"].is_null());  // no postgres collector configured
  // Every value has its unit stated, in the same shape.
  for (const char* section : {"messages", "users", "system"}) {
    INFO(section);
    for (const auto& [key, value] : s[section].items()) {
      INFO(key);
      CHECK(s["units"][section][key].is_string());
    }
  }
  CHECK(s["units"]["system"]["memory_mb"] == "MiB (2^20 bytes)");
  CHECK(s["units"]["messages"]["avg_response_time"] == "milliseconds");
  CHECK(s["units"]["uptime"] == "seconds");
  // The bot's uptime (whole seconds): this process's age.
  CHECK(s["uptime"].get<double>() >= 0);
  CHECK(std::abs(s["uptime"].get<double>() - OwnAgeSeconds()) <= 2.0);
  CHECK(std::regex_match(s["timestamp"].get<std::string>(), std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));

  const double asked = Now();
  nlohmann::json h = nlohmann::json::parse(HttpGet(bw.Url("/api/v1/history")).body);
  const double answered = Now();
  REQUIRE(h["messages"].size() == 1440);
  CHECK(h["step_seconds"] == 60);
  int day = 0, hour = 0;
  for (size_t i = 0; i < 1440; ++i) {
    day += h["messages"][i].get<int>();
    if (i >= 1380) hour += h["messages"][i].get<int>();
  }
  CHECK(day == 7);
  CHECK(hour == 3);
  // The one a minute ago, in the bucket its minute has in the window the
  // server built: the last bucket is the minute of the request, which a busy
  // machine may have moved on from `now` (so its index is computed, not fixed).
  auto bucket_of = [&](double at) {
    return 1439 - static_cast<int>(std::floor(at / 60) - std::floor((now - 60) / 60));
  };
  int in_bucket = h["messages"][bucket_of(asked)].get<int>();
  if (bucket_of(answered) != bucket_of(asked)) in_bucket += h["messages"][bucket_of(answered)].get<int>();
  CHECK(in_bucket >= 1);

  // New lines move the numbers.
  Append(dir.path() + "/bot.log", Processed(Now(), "user-h", 550));
  REQUIRE(Eventually(
      [&] {
        auto j = nlohmann::json::parse(HttpGet(bw.Url("/api/v1/summary")).body);
        return j["messages"]["total"] == 11 && j["messages"]["last_hour"] == 4 && j["users"]["active_today"] == 6;
      },
      5s));
}

TEST_CASE("the message history survives a reload, and with state_dir a restart") {
  TempDir dir;
  const double now = Now();
  std::string log;
  // 4 inbound messages in the last hour, 2 earlier today.
  for (double age : {60.0, 120.0, 900.0, 1800.0, 3 * 3600.0, 5 * 3600.0}) log += Processed(now - age, "user-x", 200);
  dir.Write("bot.log", log);
  dir.Write("bot.pid", std::to_string(getpid()) + "\n");
  const std::string config = dir.Write("botwatch.yaml", "state_dir: " + dir.path() + "/state\n" + Config(dir.path()));
  auto day_and_hour = [](Botwatch& bw) {
    nlohmann::json s = nlohmann::json::parse(HttpGet(bw.Url("/api/v1/summary")).body);
    nlohmann::json h = nlohmann::json::parse(HttpGet(bw.Url("/api/v1/history")).body);
    double charted = 0;
    for (const auto& v : h["messages"]) charted += v.get<double>();
    return std::make_tuple(s["messages"]["last_24h"].get<double>(), s["messages"]["last_hour"].get<double>(), charted);
  };
  {
    Botwatch bw(config, dir.path());
    REQUIRE(bw.WaitReady());
    REQUIRE(Eventually([&] { return std::get<0>(day_and_hour(bw)) == 6; }, 10s));
    REQUIRE(HttpPost(bw.Url("/-/reload")).status == 200);
    auto [day, hour, charted] = day_and_hour(bw);
    CHECK(day == 6);
    CHECK(hour == 4);
    CHECK(charted == 6);
    // Counting goes on after the reload, into the same history.
    Append(dir.path() + "/bot.log", Processed(Now(), "user-y", 300));
    REQUIRE(Eventually([&] { return std::get<0>(day_and_hour(bw)) == 7; }, 5s));
    bw.process().Signal(SIGTERM);  // a clean stop writes the state file
    REQUIRE(bw.process().WaitExit(10s).has_value());
  }
  // Its own work dir: the first run's log (with its port) stays behind.
  std::filesystem::create_directory(dir.path() + "/again");
  Botwatch again(config, dir.path() + "/again");
  REQUIRE(again.WaitReady());
  auto [day, hour, charted] = day_and_hour(again);
  CHECK(day == 7);
  CHECK(hour == 5);
  CHECK(charted == 7);
}

TEST_CASE("summary without log sources: nulls, not errors") {
  TempDir dir;
  // The process watched is the test's own (botwatch itself is never "the
  // bot", and `process_name: botwatch` may find this botwatch or another).
  dir.Write("bot.pid", std::to_string(getpid()) + "\n");
  Botwatch bw(
      dir.Write("botwatch.yaml", "collectors:\n  - {name: bot, type: process, pidfile: " + dir.path() + "/bot.pid}\n"),
      dir.path());
  REQUIRE(bw.WaitReady());
  HttpResult r = HttpGet(bw.Url("/api/v1/summary"));
  REQUIRE(r.status == 200);
  CHECK(r.content_type == "application/json");
  auto s = nlohmann::json::parse(r.body);
  CHECK(s["messages"]["total"].is_null());
  CHECK(s["users"]["active_today"].is_null());
  CHECK(s["system"]["memory_mb"].is_number());
}

TEST_CASE("feed: a line appended to the log reaches an SSE client, redacted, and Last-Event-ID resumes") {
  TempDir dir;
  dir.Write("bot.log", "");
  dir.Write("bot.pid", std::to_string(getpid()) + "\n");
  Botwatch bw(dir.Write("botwatch.yaml", Config(dir.path(), "feed: {max_clients: 2, buffer_events: 100}\n")),
              dir.path());
  REQUIRE(bw.WaitReady());
  const std::string log = dir.path() + "/bot.log";

  SseClient client(bw.port());
  REQUIRE(client.WaitFor(std::regex("retry: 2000"), 5s));
  CHECK(client.text().find("Content-Type: text/event-stream") != std::string::npos);

  Append(log, Processed(Now(), "2485123412341234", 840, "my secret question"));
  Append(
      log,
      R"({"level":"error","message":"failed to send message","errorType":"graph_api","userId":"2485123412341234","timestamp":")" +
          Iso(Now()) + "\"}\n");
  Append(log,
         R"({"level":"warn","message":"retrying send","errorType":"graph_api","timestamp":")" + Iso(Now()) + "\"}\n");
  Append(log, R"({"level":"info","message":"appointment booked","userId":"2485123412341234","timestamp":")" +
                  Iso(Now()) + "\"}\n");
  REQUIRE(client.WaitFor(std::regex("\"type\":\"appointment\""), 5s));
  const std::string& t = client.text();
  INFO(t);
  CHECK(std::regex_search(
      t,
      std::regex(
          R"(id: 1\ndata: \{"fields":\{"cacheHit":true,"responseTime":840,"template":"greeting","userId":"u:[0-9a-f]{8}"\},"id":1,"level":"info","time":"[^"]+","type":"message"\})")));
  CHECK(std::regex_search(t, std::regex(R"(id: 2\ndata: .*"errorType":"graph_api".*"type":"error")")));
  CHECK(std::regex_search(t, std::regex(R"(id: 3\ndata: .*"type":"appointment")")));  // the warn retry is no feed event
  CHECK(t.find("2485123412341234") == std::string::npos);
  CHECK(t.find("my secret question") == std::string::npos);

  // A client that was gone after event 1 gets 2 and 3 on reconnecting.
  SseClient again(bw.port(), "1");
  REQUIRE(again.WaitFor(std::regex("id: 3\n"), 5s));
  CHECK(again.text().find("id: 1\n") == std::string::npos);
  CHECK(again.text().find("id: 2\n") != std::string::npos);

  // Two clients are the configured bound: a third is refused.
  HttpResult third = HttpGet(bw.Url("/api/v1/feed"), 2000);
  CHECK(third.status == 503);
  HttpResult metrics = HttpGet(bw.Url("/metrics"));
  CHECK(metrics.body.find("botwatch_feed_clients 2") != std::string::npos);
  CHECK(metrics.body.find("botwatch_feed_clients_rejected_total 1") != std::string::npos);

  // Stopping botwatch ends the streams at once instead of waiting for them.
  auto start = std::chrono::steady_clock::now();
  bw.process().Signal(SIGTERM);
  REQUIRE(bw.process().WaitExit(5s));
  CHECK(std::chrono::steady_clock::now() - start < 3s);
}

// Ids of the complete SSE frames in `text`, in the order received.
std::vector<uint64_t> FrameIds(const std::string& text) {
  std::vector<uint64_t> ids;
  std::regex frame(R"(id: (\d+)\ndata: [^\n]*\n\n)");
  for (std::sregex_iterator it(text.begin(), text.end(), frame), end; it != end; ++it) {
    ids.push_back(std::stoull((*it)[1].str()));
  }
  return ids;
}

std::vector<uint64_t> Range(uint64_t first, uint64_t last) {
  std::vector<uint64_t> v;
  for (uint64_t i = first; i <= last; ++i) v.push_back(i);
  return v;
}

TEST_CASE("feed: a burst of 200 lines reaches a live client without a gap, and a resume mid-burst is gapless") {
  TempDir dir;
  dir.Write("bot.log", "");
  dir.Write("bot.pid", std::to_string(getpid()) + "\n");
  Botwatch bw(
      dir.Write("botwatch.yaml",
                Config(dir.path(), "feed: {max_clients: 4, buffer_events: 1000, max_events_per_second: 10000}\n")),
      dir.path());
  REQUIRE(bw.WaitReady());
  const std::string log = dir.path() + "/bot.log";
  SseClient live(bw.port());
  REQUIRE(live.WaitFor(std::regex("retry: 2000"), 5s));
  auto dropper = std::make_unique<SseClient>(bw.port());
  REQUIRE(dropper->WaitFor(std::regex("retry: 2000"), 5s));

  std::string burst;
  for (int i = 0; i < 200; ++i) burst += Processed(Now(), "u" + std::to_string(i), 100 + i);
  Append(log, burst);  // one write: the events pile up faster than any client reads them
  REQUIRE(live.WaitFor(std::regex("id: 200\ndata: [^\n]*\n\n"), 10s));
  CHECK(FrameIds(live.text()) == Range(1, 200));

  // The dropper reads one chunk of the burst, then goes away.
  REQUIRE(dropper->WaitFor(std::regex("id: \\d+\ndata: [^\n]*\n\n"), 5s));
  std::vector<uint64_t> seen = FrameIds(dropper->text());
  REQUIRE(!seen.empty());
  CHECK(seen == Range(1, seen.back()));
  uint64_t last = seen.back();
  dropper.reset();
  // More arrive while it is away; it resumes from the last frame it had.
  burst.clear();
  for (int i = 0; i < 100; ++i) burst += Processed(Now(), "v" + std::to_string(i), 100 + i);
  Append(log, burst);
  REQUIRE(live.WaitFor(std::regex("id: 300\ndata: [^\n]*\n\n"), 10s));
  SseClient again(bw.port(), std::to_string(last));
  REQUIRE(again.WaitFor(std::regex("id: 300\ndata: [^\n]*\n\n"), 10s));
  CHECK(FrameIds(again.text()) == Range(last + 1, 300));
  CHECK(FrameIds(live.text()) == Range(1, 300));
}

TEST_CASE("feed: message text only when the config allows it") {
  TempDir dir;
  dir.Write("bot.log", "");
  dir.Write("bot.pid", std::to_string(getpid()) + "\n");
  Botwatch bw(dir.Write("botwatch.yaml", Config(dir.path(), "feed: {allow_text: true}\n")), dir.path());
  REQUIRE(bw.WaitReady());
  SseClient client(bw.port());
  REQUIRE(client.WaitFor(std::regex("retry: 2000"), 5s));
  Append(dir.path() + "/bot.log", Processed(Now(), "2485", 100, "when do you open?"));
  REQUIRE(client.WaitFor(std::regex("\"text\":\"when do you open\\?\""), 5s));
}
