// remote_write under faults (issue 30): each reproduction against a recording
// fake receiver on 127.0.0.1 that decodes every request, and real segment
// files in a real state_dir. Sampling must not stop while a request is in
// flight, a damaged segment must never send garbage or move a counter by a
// damaged number, and a failing disk must be loud.

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

#include "base/unix_time.h"
#include "push/queue.h"
#include "push/write_request.h"
#include "tests/support/botwatch_process.h"
#include "tests/support/http_client.h"
#include "tests/support/loopback_server.h"
#include "tests/support/probe_helpers.h"
#include "tests/support/temp_dir.h"
#include "tests/support/write_request_decoder.h"

using namespace botwatch::testing;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// A receiver that decodes every request and records the botwatch_build_info
// timestamps (one per batch) of those it accepted. `decide` sees the batch
// timestamps of a request and answers it; a request that does not decode is
// counted and answered 400, as Prometheus would.
class RecordingReceiver {
 public:
  using Decide = std::function<StubResponse(const std::vector<int64_t>& batches, double now)>;
  explicit RecordingReceiver(Decide decide, int port = 0)
      : decide_(std::move(decide)), server_([this](const StubRequest& r) { return Handle(r); }, port) {}

  std::string Url(const std::string& path = "/api/v1/write") const { return server_.Url(path); }
  std::vector<int64_t> Stored() {
    std::lock_guard<std::mutex> lock(mu_);
    return stored_;
  }
  int Undecodable() {
    std::lock_guard<std::mutex> lock(mu_);
    return undecodable_;
  }
  std::vector<std::string> Paths() {
    std::lock_guard<std::mutex> lock(mu_);
    return paths_;
  }
  std::vector<double> Times() {
    std::lock_guard<std::mutex> lock(mu_);
    return times_;
  }

 private:
  StubResponse Handle(const StubRequest& req) {
    std::string raw;
    std::vector<int64_t> batches;
    bool ok = botwatch::SnappyUncompress(req.body, &raw) && botwatch::CountSamples(raw) >= 0;
    if (ok) {
      for (const auto& s : Decode(raw)) {
        if (Name(s) == "botwatch_build_info") batches.push_back(s.samples.at(0).second);
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    paths_.push_back(req.target);
    times_.push_back(botwatch::UnixNow());
    if (!ok) {
      ++undecodable_;
      StubResponse bad;
      bad.status = 400;
      bad.body = "cannot decode";
      return bad;
    }
    StubResponse resp = decide_(batches, botwatch::UnixNow());
    // Stored when answered in time (a delay is decided to be within the timeout or not by the test).
    if (resp.status / 100 == 2 && !resp.hang) stored_.insert(stored_.end(), batches.begin(), batches.end());
    return resp;
  }

  Decide decide_;
  std::mutex mu_;
  std::vector<int64_t> stored_;
  std::vector<std::string> paths_;
  std::vector<double> times_;
  int undecodable_ = 0;
  LoopbackServer server_;
};

StubResponse Status(int code, int delay_ms = 0) {
  StubResponse r;
  r.status = code;
  r.delay_ms = delay_ms;
  return r;
}

json Remote(Botwatch& bw, size_t i = 0) {
  HttpResult r = HttpGet(bw.Url("/api/v1/status"));
  if (r.status != 200) return json();
  json s = json::parse(r.body, nullptr, false);
  if (!s.is_object() || s["data"]["remote_write"].size() <= i) return json();
  return s["data"]["remote_write"][i];
}

bool Drained(Botwatch& bw, std::chrono::milliseconds within = 30s) {
  return Eventually(
      [&] {
        json s = Remote(bw);
        return s.is_object() && s["pending_samples"] == 0 && s["samples_sent"].get<uint64_t>() > 0;
      },
      within, 50ms);
}

// Windows of `window_ms` between `from` and `to` (unix ms) holding no batch.
int Holes(const std::vector<int64_t>& ts, int64_t from, int64_t to, int64_t window_ms) {
  int holes = 0;
  for (int64_t t = from; t + window_ms <= to; t += window_ms) {
    if (!std::any_of(ts.begin(), ts.end(), [&](int64_t x) { return x >= t && x < t + window_ms; })) ++holes;
  }
  return holes;
}

int Duplicates(std::vector<int64_t> ts) {
  std::sort(ts.begin(), ts.end());
  int d = 0;
  for (size_t i = 1; i < ts.size(); ++i) d += ts[i] == ts[i - 1];
  return d;
}

int64_t NowMs() { return static_cast<int64_t>(botwatch::UnixNow() * 1000); }

// Lets botwatch push for 7 s. Returns the stretch (unix ms) in which every
// 500 ms window should hold a batch: from 500 ms after `start` (unix seconds)
// to 500 ms before the end.
std::pair<int64_t, int64_t> PushForSevenSeconds(double start) {
  const int64_t from = static_cast<int64_t>(start * 1000) + 500;
  std::this_thread::sleep_for(7s);
  return {from, NowMs() - 500};
}

std::string RemoteConfig(const TempDir& dir, const std::string& url, const std::string& extra = "",
                         const std::string& state_dir = "") {
  return dir.Write("bw.yaml", "state_dir: " + (state_dir.empty() ? dir.path() + "/state" : state_dir) + "\n" +
                                  "remote_write:\n"
                                  "  - url: " +
                                  url +
                                  "\n"
                                  "    name: r\n"
                                  "    interval: 250ms\n" +
                                  extra);
}

}  // namespace

TEST_CASE("push faults: a hung receiver does not stop the sampling: every interval arrives once it answers") {
  TempDir dir;
  const double start = botwatch::UnixNow();
  // 5 s of a receiver that hangs past botwatch's timeout, then a healthy one.
  RecordingReceiver receiver([&](const std::vector<int64_t>&, double now) {
    if (now < start + 5.5) {
      StubResponse r;
      r.hang = true;
      return r;
    }
    return Status(204);
  });
  Botwatch bw(RemoteConfig(dir, receiver.Url(), "    timeout: 1s\n"), dir.path());
  REQUIRE(bw.WaitStarted());
  const auto [from, to] = PushForSevenSeconds(start);
  REQUIRE(Drained(bw));
  std::vector<int64_t> stored = receiver.Stored();
  int holes = Holes(stored, from, to, 500);
  std::printf(
      "[figures] hung receiver (5 s, timeout 1s, interval 250ms): %zu batches stored over %.1f s, "
      "%d empty 500 ms windows, %d duplicates\n",
      stored.size(), (to - from) / 1000.0, holes, Duplicates(stored));
  CHECK(holes == 0);
  CHECK(Duplicates(stored) == 0);  // nothing the receiver stored came twice (it stored nothing while hung)
  CHECK(stored.size() >= static_cast<size_t>((to - from) / 250) - 2);
  CHECK(std::is_sorted(stored.begin(), stored.end()));
}

TEST_CASE("push faults: a slow receiver that answers within the timeout costs no hole and no duplicate") {
  TempDir dir;
  const double start = botwatch::UnixNow();
  RecordingReceiver receiver([&](const std::vector<int64_t>&, double now) {
    return Status(204, now < start + 6 ? 1500 : 0);  // 1.5 s per answer, timeout 5 s
  });
  Botwatch bw(RemoteConfig(dir, receiver.Url(), "    timeout: 5s\n"), dir.path());
  REQUIRE(bw.WaitStarted());
  const auto [from, to] = PushForSevenSeconds(start);
  REQUIRE(Drained(bw));
  std::vector<int64_t> stored = receiver.Stored();
  int holes = Holes(stored, from, to, 500);
  std::printf(
      "[figures] slow receiver (1.5 s answers for 6 s, interval 250ms): %zu batches over %.1f s, "
      "%d empty 500 ms windows, %d duplicates\n",
      stored.size(), (to - from) / 1000.0, holes, Duplicates(stored));
  CHECK(holes == 0);
  CHECK(Duplicates(stored) == 0);
  CHECK(std::is_sorted(stored.begin(), stored.end()));
}

namespace {

// Runs botwatch against a refusing address long enough to queue `seconds` of
// batches on disk, then kill -9: the segment and its offset are left as a crash leaves them.
std::string QueueOnDisk(const TempDir& dir, double seconds) {
  std::string config = RemoteConfig(dir, "http://127.0.0.1:" + std::to_string(UnusedPort()) + "/api/v1/write");
  std::filesystem::create_directories(dir.path() + "/run1");
  Botwatch bw(config, dir.path() + "/run1");
  REQUIRE(bw.WaitStarted());
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  bw.process().Signal(SIGKILL);
  bw.process().WaitExit(5s);
  std::string segment = dir.path() + "/state/remote_write-r.segment";
  REQUIRE(std::filesystem::file_size(segment) > 1000);
  return segment;
}

}  // namespace

TEST_CASE(
    "push faults: a damaged segment sends nothing undecodable, skips the damage with one warning and keeps the rest") {
  TempDir dir;
  std::string segment = QueueOnDisk(dir, 3.0);
  std::string data = ReadWholeFile(segment);
  SECTION("a flipped payload byte") { data[data.size() / 2] ^= 0x5a; }
  SECTION("a flipped length byte of the first record") { data[8] ^= 0x10; }
  SECTION("a record of well-formed garbage appended") {
    std::string rec(24 + 40, '\x07');
    rec[0] = 40;
    rec[1] = rec[2] = rec[3] = 0;
    data += rec;
  }
  SECTION("a torn record (disk full mid-append) with whole records after it") {
    std::string tail = data.substr(data.size() / 2);
    data = data.substr(0, data.size() / 3) + tail;
  }
  std::ofstream(segment, std::ios::binary | std::ios::trunc) << data;

  RecordingReceiver receiver([](const std::vector<int64_t>&, double) { return Status(204); });
  std::string config = RemoteConfig(dir, receiver.Url());
  const int64_t restarted_ms = NowMs();
  Botwatch bw(config, dir.path());
  REQUIRE(bw.WaitStarted());
  REQUIRE(Drained(bw));
  std::string metrics = HttpGet(bw.Url("/metrics")).body;
  json s = Remote(bw);
  bw.process().Signal(SIGTERM);
  bw.process().WaitExit(10s);
  std::string log = bw.process().Log();
  INFO(log);
  CHECK(receiver.Undecodable() == 0);
  CHECK(s["samples_dropped"] == 0);
  CHECK(s["records_corrupt"] == 1);
  CHECK(ScrapeValue(metrics, "botwatch_remote_write_records_corrupt_total{remote=\"r\"}") == 1);
  // Counters move only by what was acknowledged: a few thousand samples, not 4.6e14 or 7.2e16.
  double sent = ScrapeValue(metrics, "botwatch_remote_write_samples_sent_total{remote=\"r\"}").value_or(-1);
  CHECK(sent > 0);
  CHECK(sent < 1e6);
  // One warning naming the file and where the damage is.
  size_t first = log.find("damaged records in the segment skipped");
  REQUIRE(first != std::string::npos);
  CHECK(log.find("damaged records in the segment skipped", first + 1) == std::string::npos);
  CHECK_THAT(log, Catch::Contains("file=remote_write-r.segment") && Catch::Contains("records_skipped=1"));
  // The backlog from before the crash arrived, all but the damaged part.
  std::vector<int64_t> stored = receiver.Stored();
  int64_t backlog = std::count_if(stored.begin(), stored.end(), [&](int64_t t) { return t < restarted_ms; });
  CHECK(backlog >= 6);
}

TEST_CASE("push faults: an .offset that is not a record boundary is ignored with a warning and nothing is lost") {
  TempDir dir;
  std::string segment = QueueOnDisk(dir, 2.0);
  const double crashed = botwatch::UnixNow();
  const uint64_t size = std::filesystem::file_size(segment);
  std::string offset;
  SECTION("inside a record") { offset = "13\n"; }
  SECTION("negative") { offset = "-20\n"; }
  SECTION("past the end") { offset = std::to_string(size + 1000) + "\n"; }
  std::ofstream(segment + ".offset", std::ios::trunc) << offset;
  RecordingReceiver receiver([](const std::vector<int64_t>&, double) { return Status(204); });
  Botwatch bw(RemoteConfig(dir, receiver.Url()), dir.path());
  REQUIRE(bw.WaitStarted());
  REQUIRE(Drained(bw));
  json s = Remote(bw);
  std::string log = bw.process().Log();
  INFO(log);
  CHECK_THAT(log, Catch::Contains("segment offset is not a record boundary"));
  CHECK(receiver.Undecodable() == 0);
  CHECK(s["samples_sent"].get<uint64_t>() < 1000000);
  std::vector<int64_t> stored = receiver.Stored();
  // The batches queued before the crash were sent (the backlog was not dropped).
  int64_t before =
      std::count_if(stored.begin(), stored.end(), [&](int64_t t) { return t < static_cast<int64_t>(crashed * 1000); });
  CHECK(before >= 5);
}

TEST_CASE("push faults: a 400 for a catch-up request drops only the rejected batch") {
  TempDir dir;
  const double start = botwatch::UnixNow();
  std::mutex mu;
  int64_t poisoned = 0;  // the batch the receiver refuses (the third it sees)
  RecordingReceiver receiver([&](const std::vector<int64_t>& batches, double now) {
    if (now < start + 3) return Status(503);  // builds a backlog of ~12 batches
    std::lock_guard<std::mutex> lock(mu);
    if (poisoned == 0 && batches.size() >= 3) poisoned = batches[2];
    bool has = std::find(batches.begin(), batches.end(), poisoned) != batches.end();
    StubResponse r = Status(has ? 400 : 204);
    if (has) r.body = "out of bounds";
    return r;
  });
  Botwatch bw(RemoteConfig(dir, receiver.Url()), dir.path());
  REQUIRE(bw.WaitStarted());
  std::this_thread::sleep_for(4s);
  REQUIRE(Drained(bw));
  json s = Remote(bw);
  std::vector<int64_t> stored = receiver.Stored();
  std::string log = bw.process().Log();
  INFO(log);
  REQUIRE(poisoned != 0);
  // Only the poisoned batch's samples were dropped: one batch's worth, and every other batch arrived.
  uint64_t dropped = s["samples_dropped"].get<uint64_t>();
  uint64_t sent = s["samples_sent"].get<uint64_t>();
  CHECK(dropped > 0);
  CHECK(dropped * 5 < sent);
  CHECK(std::find(stored.begin(), stored.end(), poisoned) == stored.end());
  CHECK(Holes(stored, static_cast<int64_t>(start * 1000) + 500, poisoned - 250, 500) == 0);
  CHECK_THAT(log, Catch::Contains("resending them one by one"));
}

TEST_CASE("push faults: Retry-After as an HTTP date is honoured") {
  TempDir dir;
  std::mutex mu;
  int answered = 0;
  RecordingReceiver receiver([&](const std::vector<int64_t>&, double now) {
    std::lock_guard<std::mutex> lock(mu);
    if (answered++ > 0) return Status(204);
    StubResponse r = Status(503);
    std::time_t at = static_cast<std::time_t>(now) + 3;
    char date[64];
    std::tm tm{};
    gmtime_r(&at, &tm);
    std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    r.headers.emplace_back("Retry-After", date);
    return r;
  });
  Botwatch bw(RemoteConfig(dir, receiver.Url()), dir.path());
  REQUIRE(bw.WaitStarted());
  REQUIRE(Drained(bw));
  std::vector<double> times = receiver.Times();
  REQUIRE(times.size() >= 2);
  // The date is whole seconds, 3 s ahead: at least 2 s later (the backoff alone would be 0.5 s).
  CHECK(times[1] - times[0] >= 2.0);
}

TEST_CASE("push faults: a 307/308 within the origin is followed, any other redirect is a documented drop") {
  TempDir dir;
  RecordingReceiver other([](const std::vector<int64_t>&, double) { return Status(204); });
  RecordingReceiver receiver([&](const std::vector<int64_t>&, double) { return Status(204); });
  // Redirects every request to another origin.
  LoopbackServer front([&](const StubRequest&) {
    StubResponse r;
    r.status = 302;
    r.headers.emplace_back("Location", other.Url());
    return r;
  });
  // Moved within its own origin: /same answers 308 to /api/v1/write, which accepts.
  LoopbackServer same_origin([&](const StubRequest& req) {
    StubResponse r;
    if (req.target == "/same") {
      r.status = 308;
      r.headers.emplace_back("Location", "/api/v1/write");
      return r;
    }
    std::string raw;
    r.status = botwatch::SnappyUncompress(req.body, &raw) && botwatch::CountSamples(raw) > 0 ? 204 : 400;
    return r;
  });
  std::string config = dir.Write("bw.yaml", "state_dir: " + dir.path() +
                                                "/state\n"
                                                "remote_write:\n"
                                                "  - url: " +
                                                same_origin.Url("/same") +
                                                "\n"
                                                "    name: moved\n"
                                                "    interval: 250ms\n"
                                                "  - url: " +
                                                front.Url("/elsewhere") +
                                                "\n"
                                                "    name: away\n"
                                                "    interval: 250ms\n");
  Botwatch bw(config, dir.path());
  REQUIRE(bw.WaitStarted());
  REQUIRE(Eventually(
      [&] {
        json a = Remote(bw, 0), b = Remote(bw, 1);
        return a.is_object() && b.is_object() && a["samples_sent"].get<uint64_t>() > 0 &&
               b["samples_dropped"].get<uint64_t>() > 0;
      },
      15s, 50ms));
  json moved = Remote(bw, 0), away = Remote(bw, 1);
  CHECK(moved["samples_dropped"] == 0);
  CHECK(away["samples_sent"] == 0);
  CHECK(other.Stored().empty());  // the credentials and samples never went to another origin
  CHECK_THAT(away["last_error"].get<std::string>(), Catch::Contains("HTTP 302") && Catch::Contains("not followed"));
  CHECK_THAT(away["redirects"].get<std::string>(), Catch::Contains("307/308"));
  std::string metrics = HttpGet(bw.Url("/metrics")).body;
  CHECK_THAT(metrics, Catch::Contains("# HELP botwatch_remote_write_samples_dropped_total") && Catch::Contains("3xx"));
}

TEST_CASE("push faults: state_dir is made 0700 and files 0600, a group-writable or foreign state_dir is refused") {
  TempDir dir;
  RecordingReceiver receiver([](const std::vector<int64_t>&, double) { return Status(204); });
  std::string config = RemoteConfig(dir, receiver.Url());
  {
    Botwatch bw(config, dir.path());
    REQUIRE(bw.WaitStarted());
    REQUIRE(Drained(bw));
    bw.process().Signal(SIGTERM);
    REQUIRE(bw.process().WaitExit(10s) == 0);
  }
  struct stat st {};
  REQUIRE(::stat((dir.path() + "/state").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  for (const auto& e : std::filesystem::directory_iterator(dir.path() + "/state")) {
    INFO(e.path());
    REQUIRE(::stat(e.path().c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
  }
  ::chmod((dir.path() + "/state").c_str(), 0777);
  CommandResult r =
      RunCommand({BOTWATCH_BINARY, "--config.file=" + config, "--web.listen-address=127.0.0.1:0"}, "", 10s);
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.output, Catch::Contains("state_dir " + dir.path() + "/state is group- or world-writable"));
  ::chmod((dir.path() + "/state").c_str(), 0700);
  REQUIRE(::chown((dir.path() + "/state").c_str(), 65534, 65534) == 0);
  r = RunCommand({BOTWATCH_BINARY, "--config.file=" + config, "--web.listen-address=127.0.0.1:0"}, "", 10s);
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.output, Catch::Contains("is owned by uid 65534"));
  ::chown((dir.path() + "/state").c_str(), 0, 0);
}

TEST_CASE("push faults: links planted in state_dir are never written through") {
  TempDir dir;
  std::string victim = dir.Write("victim", "precious\n");
  std::filesystem::create_directories(dir.path() + "/state");
  ::chmod((dir.path() + "/state").c_str(), 0700);
  for (const char* name :
       {"remote_write-r.segment", "remote_write-r.segment.offset", "logs-state.json", "logs-state.json.tmp"}) {
    REQUIRE(::symlink(victim.c_str(), (dir.path() + "/state/" + name).c_str()) == 0);
  }
  std::filesystem::create_directories(dir.path() + "/logs");
  std::ofstream(dir.path() + "/logs/bot.log") << "{\"message\":\"x\"}\n";
  RecordingReceiver receiver([](const std::vector<int64_t>&, double) { return Status(204); });
  std::string config = RemoteConfig(dir, receiver.Url(),
                                    "logs:\n"
                                    "  - name: bot\n"
                                    "    path: " +
                                        dir.path() +
                                        "/logs/bot.log\n"
                                        "    rules: " BOTWATCH_SOURCE_DIR "/config/presets/messenger-bot.yaml\n");
  config = dir.Write("bw.yaml", "state_interval: 100ms\n" + ReadWholeFile(config));
  Botwatch bw(config, dir.path());
  REQUIRE(bw.WaitStarted());
  REQUIRE(Drained(bw));
  std::this_thread::sleep_for(500ms);
  bw.process().Signal(SIGTERM);
  REQUIRE(bw.process().WaitExit(10s) == 0);
  CHECK(ReadWholeFile(victim) == "precious\n");
  CHECK_THAT(bw.process().Log(), Catch::Contains("symbolic link"));
}

namespace {

// botwatch in its own mount namespace with state_dir on a tmpfs of `size`,
// so the test can fill it, or remount it read-only with nsenter.
struct NamespacedBotwatch {
  std::unique_ptr<ChildProcess> process;
  int port = 0;
  NamespacedBotwatch(const std::string& config, const std::string& state_dir, const std::string& size,
                     const std::string& log) {
    std::string script = "mount -t tmpfs -o size=" + size + ",mode=0700 tmpfs '" + state_dir + "' && exec '" +
                         BOTWATCH_BINARY + "' --config.file='" + config + "' --web.listen-address=127.0.0.1:0";
    process = std::make_unique<ChildProcess>(
        std::vector<std::string>{"/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c", script}, log);
  }
  bool WaitStarted() {
    return Eventually(
        [&] {
          std::string log = process->Log();
          size_t at = log.find("msg=\"botwatch started\"");
          if (at == std::string::npos) return false;
          size_t p = log.find(" port=", at);
          port = std::stoi(log.substr(p + 6));
          return true;
        },
        10s);
  }
  std::string Url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port) + path; }
};

json RemoteAt(const std::string& url) {
  HttpResult r = HttpGet(url);
  json s = json::parse(r.body, nullptr, false);
  if (!s.is_object()) return json();
  return s["data"]["remote_write"][0];
}

}  // namespace

TEST_CASE("push faults: a full state_dir is loud, keeps the samples in memory and leaves no hole") {
  TempDir dir;
  std::string state = dir.path() + "/state";
  std::filesystem::create_directories(state);
  std::atomic<bool> up{false};
  const double start = botwatch::UnixNow();
  RecordingReceiver receiver([&](const std::vector<int64_t>&, double) { return Status(up ? 204 : 503); });
  std::string config = dir.Write("bw.yaml", "state_dir: " + state + "\nremote_write:\n  - url: " + receiver.Url() +
                                                "\n    name: r\n    interval: 100ms\n");
  NamespacedBotwatch bw(config, state, "48k", dir.path() + "/bw.log");
  REQUIRE(bw.WaitStarted());
  // ~48 KiB of segment at a few hundred bytes per batch fills in well under 10 s.
  bool failing = Eventually(
      [&] {
        json s = RemoteAt(bw.Url("/api/v1/status"));
        return s.is_object() && s["buffer"].get<std::string>().find("disk failing") != std::string::npos;
      },
      20s, 100ms);
  std::string log = bw.process->Log();
  INFO(log);
  REQUIRE(failing);
  json s = RemoteAt(bw.Url("/api/v1/status"));
  CHECK_THAT(s["buffer"].get<std::string>(),
             Catch::Contains("memory (disk failing:") && Catch::Contains("No space left on device"));
  std::string metrics = HttpGet(bw.Url("/metrics")).body;
  CHECK(ScrapeValue(metrics, "botwatch_state_write_errors_total{file=\"remote_write-r.segment\"}").value_or(0) >= 1);
  std::this_thread::sleep_for(1s);  // more batches, in memory only
  up = true;
  REQUIRE(Eventually(
      [&] {
        json r = RemoteAt(bw.Url("/api/v1/status"));
        return r.is_object() && r["pending_samples"] == 0 && r["buffer"] == "disk";
      },
      20s, 100ms));
  const int64_t to = NowMs() - 300;
  bw.process->Signal(SIGTERM);
  bw.process->WaitExit(10s);
  log = bw.process->Log();
  // One error line for the failing streak, one line when it recovered.
  size_t first = log.find("cannot write state file");
  REQUIRE(first != std::string::npos);
  CHECK(log.find("cannot write state file", first + 1) == std::string::npos);
  CHECK_THAT(log, Catch::Contains("state file written again"));
  std::vector<int64_t> stored = receiver.Stored();
  CHECK(Holes(stored, static_cast<int64_t>(start * 1000) + 1000, to, 300) == 0);
  CHECK(Duplicates(stored) == 0);
}

TEST_CASE("push faults: a read-only state_dir is loud and recovers when it is writable again") {
  TempDir dir;
  std::string state = dir.path() + "/state";
  std::filesystem::create_directories(state);
  RecordingReceiver receiver([](const std::vector<int64_t>&, double) { return Status(204); });
  std::string config = dir.Write("bw.yaml", "state_dir: " + state + "\nremote_write:\n  - url: " + receiver.Url() +
                                                "\n    name: r\n    interval: 100ms\n");
  NamespacedBotwatch bw(config, state, "1m", dir.path() + "/bw.log");
  REQUIRE(bw.WaitStarted());
  REQUIRE(Eventually(
      [&] {
        json s = RemoteAt(bw.Url("/api/v1/status"));
        return s.is_object() && s["samples_sent"].get<uint64_t>() > 0 && s["buffer"] == "disk";
      },
      15s, 50ms));
  const std::string pid = std::to_string(bw.process->pid());
  auto remount = [&](const char* mode) {
    CommandResult r =
        RunCommand({"/usr/bin/nsenter", "-t", pid, "-m", "mount", "-o", std::string("remount,") + mode, state});
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
  };
  remount("ro");
  bool failing = Eventually(
      [&] {
        json s = RemoteAt(bw.Url("/api/v1/status"));
        return s.is_object() && s["buffer"].get<std::string>().find("Read-only file system") != std::string::npos;
      },
      10s, 50ms);
  INFO(bw.process->Log());
  CHECK(failing);
  CHECK_THAT(RemoteAt(bw.Url("/api/v1/status"))["buffer"].get<std::string>(),
             Catch::StartsWith("memory (disk failing:"));
  CHECK(ScrapeValue(HttpGet(bw.Url("/metrics")).body,
                    "botwatch_state_write_errors_total{file=\"remote_write-r.segment.offset\"}")
                .value_or(0) +
            ScrapeValue(HttpGet(bw.Url("/metrics")).body,
                        "botwatch_state_write_errors_total{file=\"remote_write-r.segment\"}")
                .value_or(0) >=
        1);
  // Samples keep arriving meanwhile: botwatch keeps serving and sending from memory.
  size_t before = receiver.Stored().size();
  std::this_thread::sleep_for(1s);
  CHECK(receiver.Stored().size() > before);
  remount("rw");
  CHECK(Eventually([&] { return RemoteAt(bw.Url("/api/v1/status"))["buffer"] == "disk"; }, 10s, 50ms));
  bw.process->Signal(SIGTERM);
  bw.process->WaitExit(10s);
  std::string log = bw.process->Log();
  CHECK_THAT(log, Catch::Contains("cannot write state file") && Catch::Contains("state file written again"));
}
