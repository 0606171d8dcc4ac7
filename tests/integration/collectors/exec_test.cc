// The exec collector running real check programs (/bin/sh scripts) in-process,
// and once through the real binary.

#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "agent/config.h"
#include "collectors/exec.h"
#include "tests/support/botwatch_process.h"
#include "tests/support/http_client.h"
#include "tests/support/probe_helpers.h"
#include "tests/support/temp_dir.h"
#include "tests/support/time_scale.h"

using namespace botwatch;
using namespace botwatch::testing;
using namespace std::chrono_literals;

namespace {

std::shared_ptr<Collector> MakeExec(const TempDir& dir, const std::string& keys, const std::string& timeout = "2s") {
  std::string text =
      "collectors:\n  - {name: check, type: exec, interval: 5s, timeout: " + timeout + ", " + keys + "}\n";
  auto config = LoadConfigText(text, ConfigSource{dir.path() + "/botwatch.yaml", dir.path(), &ProcessEnv});
  INFO(config.status().message());
  REQUIRE(config.ok());
  return config.value()->collectors.at(0).collector;
}

std::string Script(const TempDir& dir, const std::string& name, const std::string& body) {
  std::string path = dir.Write(name, "#!/bin/sh\n" + body);
  ::chmod(path.c_str(), 0755);
  return path;
}

struct Timed {
  ProbeResult result;
  std::chrono::milliseconds took;
};

Timed TimedProbe(Collector& c, Duration budget) {
  auto start = std::chrono::steady_clock::now();
  ProbeResult r = c.Collect(ProbeContext{start + budget});
  return {std::move(r),
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start)};
}

pid_t ReadPid(const TempDir& dir, const std::string& name) {
  std::ifstream in(dir.path() + "/" + name);
  pid_t pid = 0;
  in >> pid;
  return pid;
}

// 'R', 'S', 'Z', ... or 0 when the process is gone.
char ProcState(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return 0;
  return stat[close + 2];
}

// Dead: gone, or a zombie of some other parent (init reaps orphans).
bool Dead(pid_t pid) {
  char s = ProcState(pid);
  return s == 0 || s == 'Z';
}

// Shell lines that start a grandchild sleeping 30 s and write its pid to dir/`pid_file`.
std::string SleepingGrandchild(const TempDir& dir, const std::string& pid_file) {
  return "sleep 30 &\necho $! > " + dir.path() + "/" + pid_file + "\n";
}

// A collector entry of a botwatch.yaml: an exec check probed every second, with more `keys`.
std::string ExecEntry(const std::string& name, const std::string& command, const std::string& keys) {
  return "  - {name: " + name + ", type: exec, command: " + command + ", interval: 1s, " + keys + "}\n";
}

// Fetches `path` until `done` holds for its body, for up to 5 s; `body` is left with the last one fetched.
bool FetchUntil(Botwatch& bw, const std::string& path, std::string& body,
                const std::function<bool(const std::string&)>& done) {
  return Eventually(
      [&] {
        body = HttpGet(bw.Url(path)).body;
        return done(body);
      },
      5s);
}

}  // namespace

TEST_CASE("exec: a normal check exports its metrics and its exit code") {
  TempDir dir;
  std::string check = Script(dir, "check.sh",
                             "echo '# HELP queue_depth Jobs waiting.'\n"
                             "echo '# TYPE queue_depth gauge'\n"
                             "echo \"queue_depth{queue=\\\"$1\\\"} 42\"\n"
                             "echo 'backups_total 7'\n");
  auto c = MakeExec(dir, "command: " + check + ", args: [mail]");
  Timed t = TimedProbe(*c, 2s);
  INFO(t.result.message);
  CHECK(t.result.up);
  CHECK(t.took < 500ms);
  CHECK(SampleOf(t.result, "queue_depth", {{"queue", "mail"}}) == 42.0);
  CHECK(SampleOf(t.result, "backups_total") == 7.0);
  CHECK(SampleOf(t.result, "botwatch_exec_exit_code") == 0.0);
  CHECK(SampleOf(t.result, "botwatch_exec_output_parsed") == 1.0);
  CHECK(SampleOf(t.result, "botwatch_exec_duration_seconds").value_or(-1) >= 0);
}

TEST_CASE("exec: the exit code alone decides when there is no output") {
  TempDir dir;
  auto failing = MakeExec(dir, "command: /bin/sh, args: [-c, 'exit 3']");
  Timed t = TimedProbe(*failing, 2s);
  CHECK_FALSE(t.result.up);
  CHECK(t.result.reason == "exit_code");
  CHECK(t.result.message == "check exited with code 3");
  CHECK(SampleOf(t.result, "botwatch_exec_exit_code") == 3.0);
  auto passing = MakeExec(dir, "command: true");  // found in PATH
  CHECK(TimedProbe(*passing, 2s).result.up);
  auto missing = MakeExec(dir, "command: no-such-check-anywhere");
  Timed m = TimedProbe(*missing, 2s);
  CHECK(m.result.reason == "spawn_failed");
  CHECK(SampleOf(m.result, "botwatch_exec_exit_code") == -1.0);
}

TEST_CASE("exec: args, env and working directory reach the check") {
  TempDir dir;
  REQUIRE(::mkdir((dir.path() + "/work").c_str(), 0755) == 0);
  std::string check = Script(dir, "env.sh",
                             "echo \"probe_info{arg=\\\"$1\\\",token=\\\"$TOKEN\\\",dir=\\\"$(pwd)\\\","
                             "home=\\\"${HOME:-none}\\\"} 1\"\n");
  auto c = MakeExec(dir,
                    "command: ./env.sh, args: ['two words'], env: {TOKEN: abc}, working_dir: work, "
                    "inherit_env: false");
  Timed t = TimedProbe(*c, 2s);
  INFO(t.result.message);
  REQUIRE(t.result.up);
  CHECK(SampleOf(t.result, "probe_info",
                 {{"arg", "two words"}, {"token", "abc"}, {"dir", dir.path() + "/work"}, {"home", "none"}}) == 1.0);
}

TEST_CASE("exec: a slow check is killed with its process group at the timeout") {
  TempDir dir;
  std::string check =
      Script(dir, "slow.sh", "echo $$ > " + dir.path() + "/sh.pid\n" + SleepingGrandchild(dir, "sleep.pid") + "wait\n");
  auto c = MakeExec(dir, "command: " + check, "400ms");
  Timed t = TimedProbe(*c, 400ms);
  CHECK_FALSE(t.result.up);
  CHECK(t.result.reason == "timeout");
  CHECK(t.took >= 300ms);
  CHECK(t.took < 550ms);
  CHECK(SampleOf(t.result, "botwatch_exec_exit_code") == -1.0);
  pid_t sh = ReadPid(dir, "sh.pid");
  pid_t sleeper = ReadPid(dir, "sleep.pid");
  REQUIRE(sh > 1);
  REQUIRE(sleeper > 1);
  CHECK(ProcState(sh) == 0);  // our child: killed and reaped, no zombie
  CHECK(Eventually([&] { return Dead(sleeper); }, 2s));
}

TEST_CASE("exec: garbage on stdout is rejected or ignored, by output mode") {
  TempDir dir;
  std::string check = Script(dir, "garbage.sh", "echo 'hello world'\necho '{\"not\": \"metrics\"}'\n");
  auto strict = MakeExec(dir, "command: " + check + ", output: prometheus");
  Timed t = TimedProbe(*strict, 2s);
  CHECK_FALSE(t.result.up);
  CHECK(t.result.reason == "invalid_output");
  CHECK_THAT(t.result.message, Catch::Contains("line 1: "));
  CHECK(t.result.families.size() == 3);  // botwatch_exec_* only

  auto lenient = MakeExec(dir, "command: " + check);  // output: auto
  Timed a = TimedProbe(*lenient, 2s);
  CHECK(a.result.up);
  CHECK(SampleOf(a.result, "botwatch_exec_output_parsed") == 0.0);
  CHECK(a.result.families.size() == 4);

  // botwatch's own families cannot be written by a check...
  std::string reserved = Script(dir, "reserved.sh", "echo 'botwatch_exec_exit_code 0'\n");
  Timed r = TimedProbe(*MakeExec(dir, "command: " + reserved + ", output: prometheus"), 2s);
  CHECK(r.result.reason == "invalid_output");
  CHECK_THAT(r.result.message, Catch::Contains("family botwatch_exec_exit_code uses a name reserved for botwatch"));

  // ...but a `collector` label (node_exporter's node_scrape_collector_success has
  // one) is kept as exported_collector, as Prometheus does with honor_labels: false.
  std::string clash =
      Script(dir, "clash.sh", "echo 'x{collector=\"cpu\"} 1'\necho 'y{collector=\"a\",exported_collector=\"b\"} 2'\n");
  Timed c = TimedProbe(*MakeExec(dir, "command: " + clash + ", output: prometheus"), 2s);
  REQUIRE(c.result.up);
  std::vector<std::string> seen;
  for (const auto& f : c.result.families) {
    for (const auto& m : f.metric) {
      for (const auto& l : m.label) seen.push_back(f.name + ":" + l.name + "=" + l.value);
    }
  }
  CHECK(seen == std::vector<std::string>{"x:exported_collector=cpu", "y:exported_exported_collector=a",
                                         "y:exported_collector=b"});
}

TEST_CASE("exec: output over the bound is an error and the writer is killed") {
  TempDir dir;
  std::string check = Script(dir, "huge.sh", "echo $$ > " + dir.path() + "/sh.pid\nexec yes 'x 1'\n");
  auto c = MakeExec(dir, "command: " + check + ", max_output_bytes: 100000", "5s");
  Timed t = TimedProbe(*c, 5s);
  CHECK_FALSE(t.result.up);
  CHECK(t.result.reason == "output_too_large");
  CHECK(t.took < 1s);
  CHECK(SampleOf(t.result, "botwatch_exec_output_bytes") == 100000.0);
  pid_t writer = ReadPid(dir, "sh.pid");
  REQUIRE(writer > 1);
  CHECK(ProcState(writer) == 0);
}

TEST_CASE("exec: a grandchild left behind is killed and not waited for") {
  TempDir dir;
  // The grandchild keeps stdout open: waiting for EOF would wait 30 s.
  std::string check = Script(dir, "fork.sh", SleepingGrandchild(dir, "gc.pid") + "echo 'forked 1'\nexit 0\n");
  auto c = MakeExec(dir, "command: " + check, "3s");
  Timed t = TimedProbe(*c, 3s);
  INFO(t.result.message);
  CHECK(t.result.up);
  CHECK(t.took < 500ms);
  CHECK(SampleOf(t.result, "forked") == 1.0);
  pid_t gc = ReadPid(dir, "gc.pid");
  REQUIRE(gc > 1);
  CHECK(Eventually([&] { return Dead(gc); }, 2s));

  // One that leaves the process group (setsid) cannot be killed with it, but
  // the probe still ends at its deadline instead of waiting for its stdout.
  std::string escape = Script(dir, "escape.sh",
                              "setsid sh -c 'echo $$ > " + dir.path() +
                                  "/esc.pid; exec sleep 30' &\n"
                                  "until [ -s " +
                                  dir.path() +
                                  "/esc.pid ]; do sleep 0.01; done\n"
                                  "echo 'escaped 1'\n");
  auto e = MakeExec(dir, "command: " + escape, "600ms");
  Timed et = TimedProbe(*e, 600ms);
  CHECK(et.took < 750ms);
  CHECK(et.result.up);
  CHECK(SampleOf(et.result, "escaped") == 1.0);
  REQUIRE(Eventually([&] { return ReadPid(dir, "esc.pid") > 1; }, 2s));
  ::kill(ReadPid(dir, "esc.pid"), SIGKILL);
}

TEST_CASE("exec via botwatch: check metrics carry the collector label and pass promtool") {
  TempDir dir;
  Script(dir, "check.sh",
         "echo '# HELP orders_pending Orders not yet shipped.'\n"
         "echo '# TYPE orders_pending gauge'\n"
         "echo 'orders_pending{shop=\"main\"} 5'\n"
         "echo '# TYPE latency_seconds histogram'\n"
         "echo 'latency_seconds_bucket{le=\"0.1\"} 3'\n"
         "echo 'latency_seconds_bucket{le=\"+Inf\"} 4'\n"
         "echo 'latency_seconds_sum 0.9'\n"
         "echo 'latency_seconds_count 4'\n");
  std::string config =
      dir.Write("botwatch.yaml", "collectors:\n" + ExecEntry("shop", "./check.sh", "output: prometheus"));
  Botwatch bw(config, dir.path());
  REQUIRE(bw.WaitReady());
  std::string body;
  REQUIRE(FetchUntil(bw, "/metrics", body, [](const std::string& b) {
    return b.find("orders_pending{collector=\"shop\",shop=\"main\"} 5") != std::string::npos;
  }));
  CHECK(body.find("latency_seconds_bucket{collector=\"shop\",le=\"0.1\"} 3") != std::string::npos);
  CHECK(body.find("latency_seconds_count{collector=\"shop\"} 4") != std::string::npos);
  CHECK(body.find("botwatch_collector_up{collector=\"shop\",type=\"exec\"} 1") != std::string::npos);
  CommandResult lint = RunCommand({"promtool", "check", "metrics"}, body);
  INFO(lint.output);
  CHECK(lint.exit_code == 0);
}

TEST_CASE("exec via botwatch: env secrets stay out of every output, and odd HELP text stays lint-clean") {
  TempDir dir;
  const std::string token = "tok-s3cr3t-exec-7f2c";
  // Proves the token reached the check, then prints a HELP holding an escaped
  // newline and backslash: /metrics must escape them again (prometheus-cpp
  // writes HELP verbatim), or the scrape would break.
  Script(dir, "check.sh",
         "test \"$API_TOKEN\" = '" + token +
             "' || exit 9\n"
             "printf '# HELP multi_line First line\\\\nsecond, with a backslash \\\\\\\\ here.\\n'\n"
             "echo '# TYPE multi_line gauge'\n"
             "echo 'multi_line 1'\n");
  Script(dir, "fails.sh", "test \"$API_TOKEN\" = '" + token + "' || exit 9\nexit 3\n");
  std::string env = "env: {API_TOKEN: '" + token + "'}";
  std::string config =
      dir.Write("botwatch.yaml", "collectors:\n" + ExecEntry("ok", "./check.sh", "output: prometheus, " + env) +
                                     ExecEntry("bad", "./fails.sh", env));
  Botwatch bw(config, dir.path());
  REQUIRE(bw.WaitReady());
  std::string body;
  REQUIRE(FetchUntil(bw, "/metrics", body, [](const std::string& b) {
    return b.find("multi_line{collector=\"ok\"} 1") != std::string::npos &&
           b.find("botwatch_exec_exit_code{collector=\"bad\"} 3") != std::string::npos;
  }));
  CHECK(body.find("# HELP multi_line First line\\nsecond, with a backslash \\\\ here.\n") != std::string::npos);
  CommandResult lint = RunCommand({"promtool", "check", "metrics"}, body);
  INFO(lint.output);
  CHECK(lint.exit_code == 0);
  std::string status = HttpGet(bw.Url("/api/v1/status")).body;
  CHECK(status.find("check exited with code 3") != std::string::npos);
  CHECK(body.find(token) == std::string::npos);
  CHECK(status.find(token) == std::string::npos);
  CHECK(bw.process().Log().find(token) == std::string::npos);
}

TEST_CASE("exec via botwatch: an env secret quoted by a text-format error is redacted before the quote is cut") {
  TempDir dir;
  // 60 bytes: longer than the 40 the parser quotes of a token, so a cut
  // before redaction would keep its head. `straddle` puts it 30 bytes into
  // the token, so the cut falls inside it.
  const std::string token = "tok-" + std::string(24, 'q') + "-exec-secret-" + std::string(19, 'z');
  REQUIRE(token.size() == 60);
  Script(dir, "head.sh", "printf 'bad_value %s\\n' \"$API_TOKEN\"\n");
  Script(dir, "straddle.sh", "printf 'bad_value 123456789012345678901234567890%s\\n' \"$API_TOKEN\"\n");
  std::string env = "env: {API_TOKEN: '" + token + "'}";
  std::string config =
      dir.Write("botwatch.yaml", "collectors:\n" + ExecEntry("head", "./head.sh", "output: prometheus, " + env) +
                                     ExecEntry("straddle", "./straddle.sh", "output: prometheus, " + env));
  Botwatch bw(config, dir.path());
  REQUIRE(bw.WaitReady());
  std::string status;
  REQUIRE(FetchUntil(bw, "/api/v1/status", status, [](const std::string& s) {
    // Both have reported, redacted or not.
    return s.find("invalid value \\\"1234567890") != std::string::npos &&
           (s.find("invalid value \\\"<secret>") != std::string::npos ||
            s.find("invalid value \\\"tok-") != std::string::npos);
  }));
  INFO(status);
  CHECK(status.find("invalid value \\\"<secret>\\\"") != std::string::npos);
  CHECK(status.find("invalid value \\\"123456789012345678901234567890<secret>\\\"") != std::string::npos);
  std::string body = HttpGet(bw.Url("/metrics")).body;
  const std::string head = token.substr(0, 10);
  CHECK(status.find(head) == std::string::npos);
  CHECK(body.find(head) == std::string::npos);
  // Whatever reached the status API has been logged by now or never will be.
  CHECK(bw.process().Log().find(head) == std::string::npos);
}

// The entry of collector `name` in /api/v1/status; null if absent.
nlohmann::json StatusOf(Botwatch& bw, const std::string& name) {
  HttpResult r = HttpGet(bw.Url("/api/v1/status"));
  if (r.status != 200) return nullptr;
  nlohmann::json j = nlohmann::json::parse(r.body);
  for (const auto& c : j["data"]["collectors"]) {
    if (c["name"] == name) return c;
  }
  return nullptr;
}

TEST_CASE("exec via botwatch: the scheduler reports a probe that overran its deadline, whatever the probe does") {
  TempDir dir;
  // One worker: `hog` (a check that ignores SIGTERM and sleeps) holds it for
  // its whole 8 s timeout, so `queued` cannot even start before its own
  // 500 ms deadline. Only the scheduler's guard can report it in time; the
  // probe itself, once it runs at 8 s, would say "check killed at its timeout".
  Script(dir, "hog.sh", "trap '' TERM\nsleep 30\n");
  std::string config = dir.Write("botwatch.yaml",
                                 "global: {workers: 1}\n"
                                 "collectors:\n"
                                 "  - {name: hog, type: exec, command: ./hog.sh, interval: 30s, timeout: 8s}\n"
                                 "  - {name: queued, type: exec, command: /bin/true, interval: 30s, timeout: 500ms}\n");
  auto launched = std::chrono::steady_clock::now();
  Botwatch bw(config, dir.path());
  REQUIRE(bw.WaitStarted());  // not ready: readiness waits for the hog's first probe
  // The deadline (500 ms) plus 1.5 s for start-up on a loaded machine, scaled:
  // at most 6.5 s under the sanitizers, still before the hog lets go at 8 s.
  nlohmann::json q;
  auto bound = TimeBound(500ms, 1500ms);
  if (!Eventually(
          [&] {
            q = StatusOf(bw, "queued");
            return !q.is_null() && q["reason"] == "timeout";
          },
          bound - std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - launched),
          10ms)) {
    FAIL_CHECK(q.dump() << "\n" << bw.process().Log());
  }
  INFO(q.dump());
  CHECK(std::chrono::steady_clock::now() - launched < bound);
  CHECK(q["up"] == false);
  CHECK(q["last_error"].get<std::string>().find("probe did not finish within its timeout of 500ms") !=
        std::string::npos);
  // Scrapes keep answering while the worker is held.
  HttpResult scrape = HttpGet(bw.Url("/metrics"), 2000);
  CHECK(scrape.status == 200);
  CHECK(scrape.body.find("botwatch_collector_up{collector=\"queued\",type=\"exec\"} 0") != std::string::npos);
  // The hog is down for its timeout too: killed by the collector (SIGKILL, which
  // it cannot trap) or reported by the scheduler, within timeout + margin.
  nlohmann::json h;
  REQUIRE(Eventually(
      [&] {
        h = StatusOf(bw, "hog");
        return !h.is_null() && h["reason"] == "timeout";
      },
      TimeBound(8s, 2s)));
  CHECK(h["up"] == false);
  CHECK(HttpGet(bw.Url("/metrics"), 2000).status == 200);
}

TEST_CASE("exec: as a subreaper (PID 1 in a container) the killed grandchildren are reaped too") {
  // Each test case runs in its own process, so this does not leak into others.
  REQUIRE(::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
  TempDir dir;
  std::string check = Script(dir, "fork.sh", SleepingGrandchild(dir, "gc.pid") + SleepingGrandchild(dir, "gc2.pid"));
  auto c = MakeExec(dir, "command: " + check, "2s");
  Timed t = TimedProbe(*c, 2s);
  CHECK(t.result.up);
  for (const char* file : {"gc.pid", "gc2.pid"}) {
    pid_t gc = ReadPid(dir, file);
    REQUIRE(gc > 1);
    CHECK(ProcState(gc) == 0);  // gone, not a zombie of this process
  }
}
