// The log state file under faults (issue 30, issue 28): a state file that
// still parses but is wrong must never make botwatch count a line twice or
// reset counts silently; ids from the logs never reach it in clear; a failed
// save is counted; a duration end past its start's timeout is never paired.

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include "tests/support/botwatch_process.h"
#include "tests/support/http_client.h"
#include "tests/support/log_source_config.h"
#include "tests/support/probe_helpers.h"
#include "tests/support/temp_dir.h"

using namespace botwatch::testing;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const char* kLines = "botwatch_log_lines_total{source=\"bot\"}";

void Append(const std::string& path, int from, int to) {
  std::string text;
  for (int i = from; i < to; ++i) {
    text += R"({"level":"info","message":"message processed","seq":)" + std::to_string(i) + "}\n";
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  ::close(fd);
}

std::string Config(const TempDir& dir,
                   const std::string& rules = BOTWATCH_SOURCE_DIR "/config/presets/messenger-bot.yaml") {
  return WriteBotLogConfig(dir, "bot.log", "beginning", "    rules: " + rules + "\n");
}

// A rules file timing message delivery by messageId, timing out after an hour.
std::string WriteDeliveryRules(const TempDir& dir) {
  return dir.Write("rules.yaml",
                   "rules:\n"
                   "  - metric: bot_delivery_seconds\n"
                   "    type: duration\n"
                   "    start: {field: message, equals: message sent}\n"
                   "    end: {field: message, equals: message delivered}\n"
                   "    key_field: messageId\n"
                   "    timeout: 1h\n"
                   "    buckets: [1, 5]\n");
}

double Get(Botwatch& bw, const std::string& series) {
  return ScrapeValue(HttpGet(bw.Url("/metrics")).body, series).value_or(-1);
}

}  // namespace

TEST_CASE(
    "logs state faults: a state file that parses but is wrong never counts a line twice and never resets silently") {
  TempDir dir;
  std::string config = Config(dir);
  std::string log = dir.path() + "/logs/bot.log";
  std::string state = dir.path() + "/state/logs-state.json";
  Append(log, 0, 200);
  {
    std::filesystem::create_directories(dir.path() + "/run1");
    Botwatch bw(config, dir.path() + "/run1");
    REQUIRE(bw.WaitStarted());
    REQUIRE(Eventually([&] { return Get(bw, kLines) == 200; }, 15s));
    bw.process().Signal(SIGTERM);
    REQUIRE(bw.process().WaitExit(10s) == 0);
  }
  json file = json::parse(ReadWholeFile(state));
  // {"checksum": ..., "state": {...}} (a file without the checksum is edited the same way)
  json& inner = file.contains("state") ? file["state"] : file;
  json& positions = inner["positions"]["bot"];
  REQUIRE(positions.size() == 1);
  bool counts_kept = true;
  SECTION("offset 0") { positions[0]["offset"] = 0; }
  SECTION("an offset past the end") { positions[0]["offset"] = 1u << 30; }
  SECTION("a changed fingerprint") { positions[0]["fingerprint"] = positions[0]["fingerprint"].get<uint64_t>() + 1; }
  SECTION("no store") {
    inner.erase("store");
    counts_kept = false;
  }
  std::ofstream(state, std::ios::trunc) << file.dump();
  Append(log, 200, 280);  // written while botwatch is down
  Botwatch bw(config, dir.path());
  REQUIRE(bw.WaitStarted());
  // A sentinel line: once it is counted, anything read twice would be too.
  std::this_thread::sleep_for(300ms);
  Append(log, 280, 281);
  REQUIRE(Eventually([&] { return Get(bw, "bot_messages_total{direction=\"inbound\"}") >= 1; }, 15s));
  std::this_thread::sleep_for(300ms);
  double lines = Get(bw, kLines);
  std::string out = bw.process().Log();
  INFO(out);
  CHECK(lines <= 281);                      // before: 480 (the 200 counted again)
  CHECK(lines == (counts_kept ? 201 : 1));  // resumed at the end: the 80 written meanwhile are not counted
  CHECK_THAT(out, Catch::Contains("log state file is damaged or was edited"));
  if (!counts_kept) CHECK_THAT(out, Catch::Contains("counts start from zero"));
}

TEST_CASE("logs state faults: ids from the logs are stored hashed, in a 0600 file") {
  TempDir dir;
  std::string config = Config(dir, WriteDeliveryRules(dir));
  std::string log = dir.path() + "/logs/bot.log";
  std::ofstream(log) << R"({"timestamp":"2026-01-01T00:00:00Z","message":"message sent","messageId":"+15551234567"})"
                        "\n";
  {
    Botwatch bw(config, dir.path());
    REQUIRE(bw.WaitStarted());
    REQUIRE(Eventually([&] { return Get(bw, "bot_delivery_seconds_pending") == 1; }, 15s));
    bw.process().Signal(SIGTERM);
    REQUIRE(bw.process().WaitExit(10s) == 0);
  }
  std::string state = ReadWholeFile(dir.path() + "/state/logs-state.json");
  CHECK(state.find("15551234567") == std::string::npos);
  struct stat st {};
  REQUIRE(::stat((dir.path() + "/state/logs-state.json").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  // The hashed key still pairs with its end after a restart.
  std::ofstream(log, std::ios::app)
      << R"({"timestamp":"2026-01-01T00:00:02Z","message":"message delivered","messageId":"+15551234567"})"
         "\n";
  std::filesystem::create_directories(dir.path() + "/run2");
  Botwatch bw(config, dir.path() + "/run2");
  REQUIRE(bw.WaitStarted());
  REQUIRE(Eventually([&] { return Get(bw, "bot_delivery_seconds_count") == 1; }, 15s));
  CHECK(Get(bw, "bot_delivery_seconds_bucket{le=\"5\"}") == 1);
}

TEST_CASE("logs state faults: a state file that cannot be written is one error line, a counted error, and recovers") {
  TempDir dir;
  std::string config = Config(dir);
  std::string log = dir.path() + "/logs/bot.log";
  Append(log, 0, 10);
  // A directory where the state file goes: every rename onto it fails.
  std::filesystem::create_directories(dir.path() + "/state/logs-state.json/x");
  ::chmod((dir.path() + "/state").c_str(), 0700);
  Botwatch bw(config, dir.path());
  REQUIRE(bw.WaitStarted());
  REQUIRE(Eventually([&] { return Get(bw, "botwatch_state_write_errors_total{file=\"logs-state.json\"}") >= 3; }, 15s));
  std::filesystem::remove_all(dir.path() + "/state/logs-state.json");
  REQUIRE(Eventually([&] { return std::filesystem::is_regular_file(dir.path() + "/state/logs-state.json"); }, 15s));
  std::string out = bw.process().Log();
  size_t first = out.find("cannot write state file");
  REQUIRE(first != std::string::npos);
  CHECK(out.find("cannot write state file", first + 1) == std::string::npos);
  CHECK_THAT(out, Catch::Contains("file=logs-state.json"));
  REQUIRE(Eventually([&] { return bw.process().Log().find("state file written again") != std::string::npos; }, 5s));
}

TEST_CASE(
    "logs state faults: a duration end after its start's timeout is expired, not paired, with no line in between") {
  TempDir dir;
  std::string config = Config(dir, WriteDeliveryRules(dir));
  std::ofstream(dir.path() + "/logs/bot.log")
      << R"({"timestamp":"2026-01-01T00:00:00Z","message":"message sent","messageId":"m1"})"
         "\n"
      << R"({"timestamp":"2026-01-01T02:00:00Z","message":"message delivered","messageId":"m1"})"
         "\n";
  CommandResult r = RunCommand({BOTWATCH_BINARY, "--one-shot", "--config.file=" + config}, "", 30s);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(ScrapeValue(r.output, "bot_delivery_seconds_count") == 0);  // before: 1, with _sum 7200
  CHECK(ScrapeValue(r.output, "bot_delivery_seconds_sum") == 0);
  CHECK(ScrapeValue(r.output, "bot_delivery_seconds_expired_total") == 1);
  CHECK(ScrapeValue(r.output, "bot_delivery_seconds_unmatched_total").value_or(0) == 0);
}

TEST_CASE("logs state faults: files that live 20 ms are read at the default poll interval (inotify wakes the reader)") {
  TempDir dir;
  std::filesystem::create_directories(dir.path() + "/logs");
  // The default poll_interval (250ms): without a wake-up most of these files are gone before a poll sees them.
  std::string config = dir.Write("botwatch.yaml",
                                 "logs:\n"
                                 "  - name: bot\n"
                                 "    path: '" +
                                     dir.path() +
                                     "/logs/*.log'\n"
                                     "    start_at: beginning\n"
                                     "    rules: " BOTWATCH_SOURCE_DIR "/config/presets/messenger-bot.yaml\n");
  Botwatch bw(config, dir.path());
  REQUIRE(bw.WaitStarted());
  REQUIRE(Eventually([&] { return Get(bw, "botwatch_log_files_watched{source=\"bot\"}") == 0; }, 10s));
  constexpr int kFiles = 50;
  for (int i = 0; i < kFiles; ++i) {
    std::string path = dir.path() + "/logs/short-" + std::to_string(i) + ".log";
    Append(path, i * 10, i * 10 + 10);
    std::this_thread::sleep_for(20ms);
    ::unlink(path.c_str());
  }
  // Every line written is counted (deleted files are drained to their end), or nearly: a loaded machine may
  // delay the reader past a file's 20 ms now and then.
  Eventually([&] { return Get(bw, kLines) >= kFiles * 10; }, 5s);
  double lines = Get(bw, kLines);
  std::printf("[figures] 50 files living 20 ms each at poll_interval 250ms: %.0f of %d lines counted\n", lines,
              kFiles * 10);
  CHECK(lines >= kFiles * 10 * 0.9);  // before: about 8 %
  CHECK(lines <= kFiles * 10);
}
