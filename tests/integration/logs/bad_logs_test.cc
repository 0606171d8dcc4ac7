// Hostile log input against the real daemon: binary garbage, a 10 MB line,
// invalid UTF-8, JSON nested 10 000 deep, 1e400 and -0, NUL bytes, CRLF
// endings, a file truncated while it is being read, a log directory that
// disappears and comes back, files that cannot be read. The big inputs are
// generated here rather than committed; tests/fixtures/bad/logs/ holds the
// small ones. Each case must be counted (or reported in botwatch's log) and
// must not disturb a second source that a writer thread feeds throughout:
// its count must come out exact.

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <thread>

#include "tests/support/botwatch_process.h"
#include "tests/support/http_client.h"
#include "tests/support/probe_helpers.h"
#include "tests/support/proc_stats.h"
#include "tests/support/temp_dir.h"

using namespace botwatch::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

void Append(const std::string& path, const std::string& data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  REQUIRE(fd >= 0);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    REQUIRE(n > 0);
    done += static_cast<size_t>(n);
  }
  ::close(fd);
}

std::string Fixture(const std::string& name) {
  std::ifstream in(std::string(BOTWATCH_FIXTURES) + "/bad/logs/" + name, std::ios::binary);
  REQUIRE(in);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class Daemon {
 public:
  explicit Daemon(const TempDir& dir) {
    for (const char* d : {"logs/bad", "logs/kv", "logs/good", "logs/vanish"})
      fs::create_directories(dir.path() + "/" + d);
    // Metric names are global across sources: each source gets its own.
    auto source = [&](const std::string& name, const std::string& format) {
      return "  - name: " + name + "\n    path: '" + dir.path() + "/logs/" + name + "/*.log'\n    format: " + format +
             "\n    start_at: beginning\n    poll_interval: 50ms\n    rules:\n"
             "      - {metric: " +
             name +
             "_sentinel_total, type: counter, match: {field: message, equals: sentinel}}\n"
             "      - {metric: " +
             name + "_ms_last, type: gauge, value_field: ms}\n";
    };
    std::string config = dir.Write("botwatch.yaml", "logs:\n" + source("bad", "json") + source("kv", "logfmt") +
                                                        source("good", "json") + source("vanish", "json"));
    bw_ = std::make_unique<Botwatch>(config, dir.path(), std::vector<std::string>{}, MemoryBoundEnv());
    REQUIRE(bw_->WaitStarted());
  }
  std::string Metrics() { return HttpGet(bw_->Url("/metrics"), 5000).body; }
  double Get(const std::string& series) { return ScrapeValue(Metrics(), series).value_or(-1); }
  double Self(const std::string& family, const std::string& source) {
    return Get(family + "{source=\"" + source + "\"}");
  }
  // Waits until `series` reaches `want`; the current value in the failure message.
  void WaitFor(const std::string& series, double want) {
    bool ok = Eventually([&] { return Get(series) == want; }, 20s, 20ms);
    INFO(series << " is " << Get(series) << ", wanted " << want);
    REQUIRE(ok);
  }
  Botwatch& bw() { return *bw_; }

 private:
  std::unique_ptr<Botwatch> bw_;
};

const std::string kSentinel = "{\"message\":\"sentinel\"}\n";

}  // namespace

TEST_CASE("bad log input is counted, never crashes, and other sources keep flowing") {
  TempDir dir;
  Daemon d(dir);
  const std::string bad = dir.path() + "/logs/bad/app.log";
  const std::string good = dir.path() + "/logs/good/app.log";
  Append(bad, "");

  // A second source written throughout, at about 500 lines/s.
  std::atomic<bool> stop{false};
  std::atomic<int> good_written{0};
  struct Joiner {
    std::atomic<bool>& stop;
    std::thread& t;
    ~Joiner() {
      stop = true;
      if (t.joinable()) t.join();
    }
  };
  std::thread writer([&] {
    for (int i = 0; i < 20000 && !stop; ++i) {
      Append(good, "{\"message\":\"sentinel\",\"seq\":" + std::to_string(i) + "}\n");
      ++good_written;
      std::this_thread::sleep_for(2ms);
    }
  });
  Joiner joiner{stop, writer};  // a failed REQUIRE must not leave the thread running

  double sentinels = 0;
  // Appends `data` and a sentinel line, waits for the sentinel: the pipeline
  // got past the bad input. Returns how many parse errors the input added.
  auto feed = [&](const std::string& what, const std::string& data, const std::string& path) -> double {
    INFO(what);
    double errors = d.Self("botwatch_log_parse_errors_total", "bad");
    Append(path, data);
    Append(path, kSentinel);
    // Sentinels inside the input itself (the CRLF fixture ends its lines with \r\n) count too.
    for (size_t p = data.find("\"sentinel\""); p != std::string::npos; p = data.find("\"sentinel\"", p + 1))
      ++sentinels;
    d.WaitFor("bad_sentinel_total", ++sentinels);
    return d.Self("botwatch_log_parse_errors_total", "bad") - errors;
  };
  long rss_start = RssKiB(d.bw().process().pid());
  double lines_before = 0;

  {
    // Small committed fixtures: exact figures.
    CHECK(feed("invalid UTF-8", Fixture("invalid-utf8.jsonl"), bad) == 2);
    CHECK(feed("NUL bytes", Fixture("nul-bytes.jsonl"), bad) == 2);
    CHECK(feed("numbers out of range", Fixture("numbers.jsonl"), bad) == 1);  // 1e400 in a read field
    CHECK(d.Get("bad_ms_last") == 0);                                         // the last line's -0
    CHECK(feed("CRLF endings", Fixture("crlf.jsonl"), bad) == 0);

    // Generated: binary garbage (1 MiB, no valid JSON line in it).
    std::mt19937 rng(42);
    std::string garbage(1 << 20, '\0');
    for (char& c : garbage) c = static_cast<char>(rng() & 0xff);
    for (size_t i = 0; i < garbage.size(); ++i) {
      if (garbage[i] == '{') garbage[i] = '(';  // no accidental object
    }
    lines_before = d.Self("botwatch_log_lines_total", "bad");
    double garbage_errors = feed("binary garbage", garbage + "\n", bad);
    double garbage_lines = d.Self("botwatch_log_lines_total", "bad") - lines_before - 1;
    CHECK(garbage_errors > 0);
    CHECK(garbage_errors <= garbage_lines);

    // A 10 MB line: one parse error (longer than max_line_bytes), never buffered whole.
    CHECK(feed("10 MB line", "{\"message\":\"" + std::string(10 << 20, 'x') + "\"}\n", bad) == 1);
    // JSON nested 10 000 deep.
    CHECK(feed("array nested 10000 deep", std::string(10000, '[') + std::string(10000, ']') + "\n", bad) == 1);
    std::string deep_object;
    for (int i = 0; i < 10000; ++i) deep_object += "{\"a\":";
    deep_object += "1" + std::string(10000, '}') + "\n";
    // Valid JSON whose depth is only in fields no rule reads: skipped over
    // without recursion, a line like any other (not an error, not a crash).
    CHECK(feed("object nested 10000 deep", deep_object, bad) == 0);
    std::string deep_wanted;
    for (int i = 0; i < 10000; ++i) deep_wanted += "{\"message\":";
    deep_wanted += "1" + std::string(10000, '}') + "\n";
    CHECK(feed("wanted field nested 10000 deep", deep_wanted, bad) <= 1);
  }

  // Memory: the 10 MB line and the garbage were streamed, not kept.
  long rss_end = RssKiB(d.bw().process().pid());
  INFO("RSS " << rss_start << " KiB -> " << rss_end << " KiB");
  CHECK(rss_end - rss_start < 8 * 1024 * kRssBoundScale);

  // logfmt: an unterminated quote, NUL bytes, garbage; then a good line.
  const std::string kv = dir.path() + "/logs/kv/app.log";
  Append(kv, Fixture("logfmt-bad.log"));
  Append(kv, "message=sentinel ms=-0\r\n");
  d.WaitFor("kv_sentinel_total", 1);
  CHECK(d.Self("botwatch_log_parse_errors_total", "kv") == 3);

  // A file truncated while it is being read: 20 MB, cut to nothing at once,
  // then new lines. Those must be counted; the rest is a race by design.
  const std::string big = dir.path() + "/logs/bad/trunc.log";
  std::string block;
  for (int i = 0; i < 200000; ++i) block += "{\"message\":\"filler\",\"seq\":" + std::to_string(i) + "}\n";
  Append(big, block);
  REQUIRE(Eventually(
      [&] {
        return d.Self("botwatch_log_lag_bytes", "bad") > 0 ||
               d.Self("botwatch_log_lines_total", "bad") > lines_before + 1000;
      },
      10s, 1ms));
  REQUIRE(::truncate(big.c_str(), 0) == 0);
  double rotations = d.Self("botwatch_log_rotations_total", "bad");
  Append(big, "{\"message\":\"after truncation\"}\n" + kSentinel);
  d.WaitFor("bad_sentinel_total", ++sentinels);
  CHECK(d.Self("botwatch_log_rotations_total", "bad") >= rotations);
  CHECK(d.Self("botwatch_log_lag_bytes", "bad") == 0);

  // A log directory that disappears and comes back.
  const std::string vanish = dir.path() + "/logs/vanish";
  Append(vanish + "/app.log", kSentinel + kSentinel);
  d.WaitFor("vanish_sentinel_total", 2);
  fs::remove_all(vanish);
  d.WaitFor("botwatch_log_files_watched{source=\"vanish\"}", 0);
  fs::create_directories(vanish);
  Append(vanish + "/app.log", kSentinel + kSentinel + kSentinel);
  d.WaitFor("vanish_sentinel_total", 5);
  d.WaitFor("botwatch_log_files_watched{source=\"vanish\"}", 1);

  // A FIFO matching the glob: skipped with one warning, never opened (an open
  // would block the polling thread until some writer came).
  REQUIRE(::mkfifo((dir.path() + "/logs/bad/pipe.log").c_str(), 0644) == 0);
  REQUIRE(
      Eventually([&] { return d.bw().process().Log().find("log file cannot be followed") != std::string::npos; }, 5s));
  CHECK(d.bw().process().Log().find("pipe.log") != std::string::npos);
  CHECK(feed("after the FIFO", "", bad) == 0);

  stop = true;
  writer.join();
  // The other source: every line written, counted exactly once.
  d.WaitFor("good_sentinel_total", good_written.load());
  CHECK(d.Self("botwatch_log_parse_errors_total", "good") == 0);
  CHECK(d.bw().process().WaitExit(0ms) == std::nullopt);
  // The warning is logged once, not once per poll.
  std::string log = d.bw().process().Log();
  size_t warnings = 0;
  for (size_t p = log.find("log file cannot be followed"); p != std::string::npos;
       p = log.find("log file cannot be followed", p + 1)) {
    ++warnings;
  }
  CHECK(warnings == 1);
}

TEST_CASE("a log file botwatch may not read is reported once and does not stop the others") {
  // Tests run as root, who reads everything: run botwatch as nobody instead (setpriv).
  TempDir dir;
  fs::permissions(dir.path(), fs::perms::all);
  fs::create_directories(dir.path() + "/logs");
  fs::permissions(dir.path() + "/logs", fs::perms::all);
  std::string secret = dir.path() + "/logs/secret.log";
  std::string open = dir.path() + "/logs/open.log";
  Append(secret, kSentinel);
  Append(open, kSentinel + kSentinel);
  fs::permissions(secret, fs::perms::owner_read | fs::perms::owner_write);  // 0600, owned by root
  fs::permissions(open, fs::perms::all);
  std::string config =
      dir.Write("botwatch.yaml",
                "logs:\n  - name: app\n    path: '" + dir.path() +
                    "/logs/*.log'\n"
                    "    start_at: beginning\n    poll_interval: 50ms\n    rules:\n"
                    "      - {metric: app_sentinel_total, type: counter, match: {field: message, equals: sentinel}}\n");
  fs::permissions(config, fs::perms::all);
  // setpriv execs botwatch itself (runuser would stay in between and keep the signal).
  ChildProcess child({"/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", BOTWATCH_BINARY,
                      "--config.file=" + config, "--web.listen-address=127.0.0.1:0"},
                     dir.path() + "/botwatch.log");
  int port = 0;
  REQUIRE(Eventually(
      [&] {
        std::smatch m;
        std::string log = child.Log();
        if (!std::regex_search(log, m, std::regex("msg=\"botwatch started\".* port=([0-9]+)"))) return false;
        port = std::stoi(m[1].str());
        return port > 0;
      },
      10s));
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/metrics";
  REQUIRE(Eventually([&] { return ScrapeValue(HttpGet(url).body, "app_sentinel_total") == 2.0; }, 10s));
  std::string log = child.Log();
  INFO(log);
  CHECK(log.find("log file cannot be followed") != std::string::npos);
  CHECK(log.find("Permission denied") != std::string::npos);
  // Once readable, it is followed.
  fs::permissions(secret, fs::perms::all);
  CHECK(Eventually([&] { return ScrapeValue(HttpGet(url).body, "app_sentinel_total") == 3.0; }, 10s));
  child.Signal(SIGTERM);
  CHECK(child.WaitExit(5s) == 0);
}
