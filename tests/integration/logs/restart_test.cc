// The real binary following real files across restarts: graceful (SIGTERM),
// kill -9, and reload. Counts must be exact: every line written is counted
// once, in the counters Prometheus sees, whatever happened in between.

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <thread>

#include "tests/support/botwatch_process.h"
#include "tests/support/http_client.h"
#include "tests/support/log_source_config.h"
#include "tests/support/probe_helpers.h"
#include "tests/support/temp_dir.h"

using namespace botwatch::testing;
using namespace std::chrono_literals;

namespace {

void Append(const std::string& path, int from, int to) {
  std::string text;
  for (int i = from; i < to; ++i) {
    text += R"({"level":"info","message":"message processed","seq":)" + std::to_string(i) + R"(,"userId":"u)" +
            std::to_string(i % 10) +
            R"("})"
            "\n";
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  ::close(fd);
}

class Run {
 public:
  Run(const TempDir& dir, const std::string& config, int n) {
    std::string work = dir.path() + "/run" + std::to_string(n);
    std::filesystem::create_directories(work);
    bw_ = std::make_unique<Botwatch>(config, work);
    REQUIRE(bw_->WaitStarted());
  }
  std::string Metrics() { return HttpGet(bw_->Url("/metrics")).body; }
  double Get(const std::string& series) { return ScrapeValue(Metrics(), series).value_or(-1); }
  bool WaitFor(const std::string& series, double want) {
    return Eventually([&] { return Get(series) == want; }, 15s, 20ms);
  }
  Botwatch& bw() { return *bw_; }

 private:
  std::unique_ptr<Botwatch> bw_;
};

const char* kLines = "botwatch_log_lines_total{source=\"bot\"}";
const char* kMessages = "bot_messages_total{direction=\"inbound\"}";

// Instead of sleeping and then asserting nothing more arrived: appends one
// more line (the sentinel) and waits until it was read. Lines are read in
// order, so anything read twice from before it has been counted by then.
// Returns the new number of lines written.
int AppendSentinel(Run& run, const std::string& log, int written) {
  Append(log, written, written + 1);
  REQUIRE(Eventually([&] { return run.Get(kLines) >= written + 1; }, 15s, 20ms));
  return written + 1;
}

std::string Config(const TempDir& dir, const std::string& start_at = "beginning") {
  std::filesystem::create_directories(dir.path() + "/state");
  return WriteBotLogConfig(dir, "bot.log*", start_at,
                           "    rules: " BOTWATCH_SOURCE_DIR "/config/presets/messenger-bot.yaml\n");
}

// A config reading logs/bot.log from the beginning with `rules` (YAML, indented
// under `rules:`) and `extra` source keys, saving state often.
std::string InlineRulesConfig(const TempDir& dir, const std::string& rules, const std::string& extra = "") {
  std::filesystem::create_directories(dir.path() + "/state");
  return WriteBotLogConfig(dir, "bot.log", "beginning", extra + "    rules:\n" + rules);
}

}  // namespace

TEST_CASE("logs: a graceful restart neither loses nor repeats lines") {
  TempDir dir;
  std::string config = Config(dir);
  std::string log = dir.path() + "/logs/bot.log";
  Append(log, 0, 1000);
  {
    Run run(dir, config, 1);
    REQUIRE(run.WaitFor(kLines, 1000));
    Append(log, 1000, 1500);
    REQUIRE(run.WaitFor(kLines, 1500));
    run.bw().process().Signal(SIGTERM);
    REQUIRE(run.bw().process().WaitExit(5s) == 0);
  }
  // Written while botwatch is down, including a rotation by rename.
  Append(log, 1500, 1700);
  REQUIRE(::rename(log.c_str(), (log + ".1").c_str()) == 0);
  Append(log, 1700, 2000);
  Run run(dir, config, 2);
  REQUIRE(run.WaitFor(kLines, 2000));
  CHECK(run.Get(kMessages) == 2000);
  CHECK(run.Get("botwatch_log_parse_errors_total{source=\"bot\"}") == 0);
  // Stable: nothing is read twice later either.
  int written = AppendSentinel(run, log, 2000);
  CHECK(run.Get(kLines) == written);
  CHECK(run.Get(kMessages) == written);
  CHECK(run.Get("botwatch_log_files_watched{source=\"bot\"}") == 2);
}

TEST_CASE("logs: kill -9 while reading, then a restart counts every line exactly once") {
  TempDir dir;
  std::string config = Config(dir);
  std::string log = dir.path() + "/logs/bot.log";
  int written = 0;
  Append(log, 0, 200);
  written = 200;
  {
    Run run(dir, config, 1);
    REQUIRE(run.WaitFor(kLines, 200));
    // Keep writing while botwatch reads and saves state; kill it mid-stream.
    for (int batch = 0; batch < 20; ++batch) {
      Append(log, written, written + 500);
      written += 500;
      std::this_thread::sleep_for(15ms);
    }
    run.bw().process().Signal(SIGKILL);
    REQUIRE(run.bw().process().WaitExit(5s) == 128 + SIGKILL);
  }
  REQUIRE(std::filesystem::exists(dir.path() + "/state/logs-state.json"));
  // No temp file is left behind by an interrupted save either way.
  Append(log, written, written + 300);
  written += 300;
  Run run(dir, config, 2);
  REQUIRE(run.WaitFor(kLines, written));
  CHECK(run.Get(kMessages) == written);
  written = AppendSentinel(run, log, written);
  CHECK(run.Get(kLines) == written);
  CHECK(run.Get(kMessages) == written);
}

TEST_CASE("logs: a reload keeps counts and positions") {
  TempDir dir;
  std::string config = Config(dir, "end");
  std::string log = dir.path() + "/logs/bot.log";
  Append(log, 0, 100);  // before start, start_at end: not counted
  Run run(dir, config, 1);
  REQUIRE(Eventually([&] { return run.Get("botwatch_log_files_watched{source=\"bot\"}") == 1; }, 10s));
  Append(log, 100, 400);
  REQUIRE(run.WaitFor(kLines, 300));
  REQUIRE(HttpPost(run.bw().Url("/-/reload")).status == 200);
  Append(log, 400, 500);
  REQUIRE(run.WaitFor(kLines, 400));
  CHECK(run.Get(kMessages) == 400);
  std::string metrics = run.Metrics();
  CHECK(ScrapeValue(metrics, "botwatch_config_last_reload_successful") == 1.0);
  CommandResult lint = RunCommand({"promtool", "check", "metrics"}, metrics);
  INFO(lint.output);
  CHECK(lint.exit_code == 0);
}

TEST_CASE("logs: --one-shot prints the metrics of the whole file and exits") {
  TempDir dir;
  std::string config = Config(dir, "end");
  std::string log = dir.path() + "/logs/bot.log";
  Append(log, 0, 250);
  std::ofstream(log, std::ios::app) << "{\"level\":\"info\",\"message\":\"message processed\"\n"
                                    << "{\"level\":\"info\",\"message\":\"message processed\"}";  // no newline
  CommandResult r = RunCommand({BOTWATCH_BINARY, "--one-shot", "--config.file=" + config}, "", 30s);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(ScrapeValue(r.output, kLines) == 252);
  CHECK(ScrapeValue(r.output, kMessages) == 251);
  CHECK(ScrapeValue(r.output, "botwatch_log_parse_errors_total{source=\"bot\"}") == 1);
  CHECK(ScrapeValue(r.output, "bot_active_users{window=\"30m\"}") == 10);
  // One-shot never writes the state file.
  CHECK_FALSE(std::filesystem::exists(dir.path() + "/state/logs-state.json"));
}

TEST_CASE("logs: the running daemon follows each kind of rotation with exact counts") {
  TempDir dir;
  std::string config = Config(dir);
  std::string log = dir.path() + "/logs/bot.log";
  std::string method = GENERATE(std::string("rename"), std::string("copytruncate"), std::string("delete"));
  INFO(method);
  Append(log, 0, 100);
  Run run(dir, config, 1);
  REQUIRE(run.WaitFor(kLines, 100));
  int written = 100;
  for (int rotation = 1; rotation <= 3; ++rotation) {
    // Rotate once botwatch has caught up: lines written between a copy and the
    // truncation exist only in the copy, for any tailer.
    // Named outside the glob: a copytruncate copy matched by the glob would be
    // a new file with the same lines.
    std::string rotated = dir.path() + "/logs/old-" + std::to_string(rotation);
    if (method == "rename") {
      REQUIRE(::rename(log.c_str(), rotated.c_str()) == 0);
    } else if (method == "copytruncate") {
      std::filesystem::copy_file(log, rotated);
      REQUIRE(::truncate(log.c_str(), 0) == 0);
    } else {
      REQUIRE(::unlink(log.c_str()) == 0);
    }
    // The writer goes on at once, in several appends.
    for (int batch = 0; batch < 5; ++batch) {
      Append(log, written, written + 40);
      written += 40;
    }
    REQUIRE(run.WaitFor(kLines, written));
    REQUIRE(run.WaitFor("botwatch_log_rotations_total{source=\"bot\"}", rotation));
  }
  written = AppendSentinel(run, log, written);
  CHECK(run.Get(kLines) == written);
  CHECK(run.Get(kMessages) == written);
}

TEST_CASE("logs: duration rule open starts survive kill -9 and pair with ends read after the restart") {
  TempDir dir;
  std::string config = InlineRulesConfig(dir,
                                         "      - metric: bot_delivery_seconds\n"
                                         "        type: duration\n"
                                         "        start: {field: message, equals: message sent}\n"
                                         "        end: {field: message, equals: message delivered}\n"
                                         "        key_field: messageId\n"
                                         "        timeout: 1h\n"
                                         "        buckets: [1, 5, 30]\n");
  std::string log = dir.path() + "/logs/bot.log";
  auto write = [&](const std::string& message, int from, int to, int second) {
    std::string text;
    for (int i = from; i < to; ++i) {
      text += R"({"timestamp":"2026-01-01T00:00:)" + std::string(second < 10 ? "0" : "") + std::to_string(second) +
              R"(Z","message":")" + message + R"(","messageId":"m)" + std::to_string(i) + "\"}\n";
    }
    std::ofstream(log, std::ios::app) << text;
  };
  write("message sent", 0, 100, 0);
  {
    Run run(dir, config, 1);
    REQUIRE(run.WaitFor("bot_delivery_seconds_pending", 100));
    write("message delivered", 0, 40, 2);
    REQUIRE(run.WaitFor("bot_delivery_seconds_count", 40));
    // Wherever the last save was, the restart re-reads from its positions with its open starts.
    run.bw().process().Signal(SIGKILL);
    REQUIRE(run.bw().process().WaitExit(5s) == 128 + SIGKILL);
  }
  write("message delivered", 40, 100, 20);
  write("message delivered", 500, 501, 20);  // never started
  Run run(dir, config, 2);
  REQUIRE(run.WaitFor("bot_delivery_seconds_count", 100));
  CHECK(run.Get("bot_delivery_seconds_bucket{le=\"5\"}") == 40);
  CHECK(run.Get("bot_delivery_seconds_bucket{le=\"30\"}") == 100);
  CHECK(run.WaitFor("bot_delivery_seconds_unmatched_total", 1));
  CHECK(run.Get("bot_delivery_seconds_pending") == 0);
  CHECK(run.Get("bot_delivery_seconds_expired_total") == 0);
}

TEST_CASE("logs: session rule conversations survive kill -9 and end with every message counted once") {
  TempDir dir;
  std::string config =
      InlineRulesConfig(dir,
                        "      - metric: bot_conversation\n"
                        "        type: session\n"
                        "        match: {field: message, equals: message processed}\n"
                        "        key_field: userId\n"
                        "        gap: 30m\n"
                        "        outcomes: [{name: booked, match: {field: message, equals: appointment booked}}]\n"
                        "        default_outcome: abandoned\n"
                        "        message_buckets: [1, 5, 10]\n"
                        "        duration_buckets: [60, 600]\n",
                        "    identifiers: [userId]\n");
  std::string log = dir.path() + "/logs/bot.log";
  // 50 users, minute `minute` of the first hour.
  auto write = [&](const std::string& message, int minute) {
    std::string text;
    for (int u = 0; u < 50; ++u) {
      text += R"({"timestamp":"2026-01-01T00:)" + std::string(minute < 10 ? "0" : "") + std::to_string(minute) +
              R"(:00Z","message":")" + message + R"(","userId":"user)" + std::to_string(u) + "\"}\n";
    }
    std::ofstream(log, std::ios::app) << text;
  };
  write("message processed", 0);
  write("message processed", 1);
  {
    Run run(dir, config, 1);
    REQUIRE(run.WaitFor("bot_conversation_active", 50));
    write("appointment booked", 2);
    write("message processed", 3);
    REQUIRE(run.WaitFor("botwatch_log_lines_total{source=\"bot\"}", 200));
    run.bw().process().Signal(SIGKILL);
    REQUIRE(run.bw().process().WaitExit(5s) == 128 + SIGKILL);
  }
  write("message processed", 4);
  // An hour later by the log's clock: every conversation of the first ends.
  std::ofstream(log, std::ios::app)
      << R"({"timestamp":"2026-01-01T01:30:00Z","message":"message processed","userId":"late"})"
         "\n";
  Run run(dir, config, 2);
  REQUIRE(run.WaitFor("bot_conversation_messages_count{outcome=\"booked\"}", 50));
  // Each conversation: 4 messages over 4 minutes, whatever the last save before the kill held.
  CHECK(run.Get("bot_conversation_messages_sum{outcome=\"booked\"}") == 200);
  CHECK(run.Get("bot_conversation_duration_seconds_sum{outcome=\"booked\"}") == 50 * 240);
  CHECK(run.Get("bot_conversation_messages_bucket{outcome=\"booked\",le=\"1\"}") == 0);
  CHECK(run.Get("bot_conversation_messages_count{outcome=\"abandoned\"}") == 0);
  CHECK(run.Get("bot_conversation_active") == 1);
  CHECK(run.Get("bot_conversation_evicted_total") == 0);
  CHECK(run.Metrics().find("user1") == std::string::npos);
}
