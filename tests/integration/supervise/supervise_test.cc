// Supervise mode against the real binary with small shell children:
// pass-through byte for byte, exit codes, signal forwarding, restarts with
// backoff, the child's metrics, the child as a `process` collector, and a
// child that ignores SIGTERM.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include "agent/cli.h"
#include "supervise/supervisor.h"
#include "tests/support/botwatch_process.h"
#include "tests/support/http_client.h"
#include "tests/support/proc_tree.h"
#include "tests/support/supervised_run.h"
#include "tests/support/temp_dir.h"

using namespace botwatch::testing;
using namespace std::chrono_literals;

namespace {

// botwatch supervising SCRIPT, with a minimal config of its own.
class Supervised : public SupervisedRun {
 public:
  // `prefix` runs botwatch through another command (e.g. unshare).
  Supervised(const TempDir& dir, const std::string& script, std::vector<std::string> flags = {},
             std::vector<std::string> prefix = {})
      : SupervisedRun(
            dir.path(),
            dir.Write("botwatch.yaml", "collectors:\n  - {name: me, type: process, process_name: botwatch}\n"), script,
            std::move(flags), std::move(prefix)) {}
};

std::optional<double> Sample(const std::string& metrics, const std::string& series) {
  size_t pos = metrics.find("\n" + series + " ");
  if (pos == std::string::npos) return std::nullopt;
  return std::stod(metrics.substr(pos + series.size() + 2));
}

}  // namespace

TEST_CASE("supervise: the child's stdout and stderr pass through byte for byte") {
  TempDir dir;
  // 1 MiB of every byte value, no trailing newline; then a partial line on stderr.
  std::string payload(1 << 20, '\0');
  std::mt19937 rng(42);
  for (auto& c : payload) c = static_cast<char>(rng() & 0xff);
  payload += "\r\nlast line without newline";
  std::string file = dir.Write("payload.bin", payload);
  Supervised s(dir, "cat '" + file + "'; printf 'err\\0bytes\\r' >&2; printf 'tail' >&2");
  REQUIRE(s.WaitExit(20s) == 0);
  CHECK(s.Stdout() == payload);  // botwatch writes nothing of its own to stdout
  std::string err = s.Stderr();
  CHECK(err.find(std::string("err\0bytes\rtail", 14)) != std::string::npos);
}

TEST_CASE("supervise: botwatch exits with the child's exit code") {
  TempDir dir;
  SECTION("zero") {
    Supervised s(dir, "exit 0");
    CHECK(s.WaitExit(10s) == 0);
  }
  SECTION("non-zero") {
    Supervised s(dir, "exit 3");
    CHECK(s.WaitExit(10s) == 3);
  }
  SECTION("killed by a signal: 128 + signal, as a shell reports it") {
    Supervised s(dir, "kill -KILL $$");
    CHECK(s.WaitExit(10s) == 137);
    CHECK(s.Stderr().find("exit_code=137") != std::string::npos);
  }
}

TEST_CASE("supervise: a command that cannot run exits 127") {
  TempDir dir;
  std::string config =
      dir.Write("botwatch.yaml", "collectors:\n  - {name: me, type: process, process_name: botwatch}\n");
  CommandResult r = RunCommand({BOTWATCH_BINARY, "run", "--config.file=" + config, "--web.listen-address=127.0.0.1:0",
                                "--", "/nonexistent/bot"});
  CHECK(r.exit_code == 127);
  CHECK(r.output.find("cannot start the child") != std::string::npos);
}

TEST_CASE("supervise: SIGTERM and SIGINT are forwarded to the child, SIGHUP with --supervise.forward-sighup") {
  TempDir dir;
  const std::string script =
      "trap 'echo got-HUP' HUP; trap 'echo got-TERM; exit 42' TERM; trap 'echo got-INT; exit 43' INT; "
      "echo ready; while :; do sleep 0.02; done";
  SECTION("SIGHUP then SIGTERM") {
    Supervised s(dir, script, {"--supervise.forward-sighup"});
    REQUIRE(s.WaitStdout("ready"));
    s.Signal(SIGHUP);
    REQUIRE(s.WaitStdout("got-HUP"));
    CHECK(Eventually([&] { return s.Stderr().find("msg=\"config reloaded\"") != std::string::npos; }, 5s));
    s.Signal(SIGTERM);
    CHECK(s.WaitExit(10s) == 42);
    CHECK(s.Stdout() == "ready\ngot-HUP\ngot-TERM\n");
  }
  SECTION("SIGINT") {
    Supervised s(dir, script);
    REQUIRE(s.WaitStdout("ready"));
    s.Signal(SIGINT);
    CHECK(s.WaitExit(10s) == 43);
    CHECK(s.Stdout() == "ready\ngot-INT\n");
  }
}

TEST_CASE("supervise: SIGHUP reloads botwatch and leaves the child alone by default") {
  // A child without a HUP handler dies of SIGHUP, as Node.js does: a reload
  // must not restart the bot.
  TempDir dir;
  Supervised s(dir, "trap 'echo got-TERM; exit 42' TERM; echo ready; while :; do sleep 0.02; done");
  REQUIRE(s.WaitStdout("ready"));
  s.Signal(SIGHUP);
  REQUIRE(Eventually([&] { return s.Stderr().find("msg=\"config reloaded\"") != std::string::npos; }, 5s));
  // The reload line is logged after the signal was handled, so a forwarded
  // SIGHUP would already have ended the child: TERM reaching the trap proves
  // the child lived through the reload.
  s.Signal(SIGTERM);
  CHECK(s.WaitExit(10s) == 42);
  CHECK(s.Stdout() == "ready\ngot-TERM\n");
}

TEST_CASE("supervise: a child that ignores SIGTERM is killed after the grace period") {
  TempDir dir;
  Supervised s(dir, "trap '' TERM; echo ready; while :; do sleep 0.02; done", {"--supervise.kill-timeout=300ms"});
  REQUIRE(s.WaitStdout("ready"));
  auto start = std::chrono::steady_clock::now();
  s.Signal(SIGTERM);
  REQUIRE(s.WaitExit(10s) == 137);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(took >= 0.3);
  CHECK(took < 3.0);
  CHECK(s.Stderr().find("child ignored the stop signal; killing it") != std::string::npos);
}

TEST_CASE("supervise: a crashing child is restarted with backoff, and its metrics are served") {
  TempDir dir;
  auto launched = std::chrono::steady_clock::now();
  std::string runs = dir.path() + "/runs";
  // Fails twice, then stays up.
  Supervised s(dir,
               "echo run >> '" + runs + "'; n=$(wc -l < '" + runs +
                   "'); echo \"run $n\"; "
                   "if [ $n -lt 3 ]; then exit 5; fi; while :; do sleep 0.02; done",
               {"--supervise.restart=on-failure", "--supervise.restart-backoff=100ms",
                "--supervise.restart-backoff-max=150ms", "--supervise.name=bot"});
  REQUIRE(s.WaitStdout("run 3"));
  CHECK(s.Stdout() == "run 1\nrun 2\nrun 3\n");
  std::string err = s.Stderr();
  CHECK(err.find("msg=\"child failed; restarting\" exit_code=5 in=100ms attempt=1") != std::string::npos);
  CHECK(err.find("msg=\"child failed; restarting\" exit_code=5 in=150ms attempt=2") != std::string::npos);

  int port = s.Port();
  REQUIRE(port > 0);
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/metrics";
  std::string m;
  const std::string up = "botwatch_collector_up{collector=\"bot\",type=\"process\"}";
  REQUIRE(Eventually(
      [&] {
        m = HttpGet(url).body;
        return Sample(m, up) == 1.0;
      },
      5s));
  // One family says up: no botwatch_process_up, no uptime beside the start time.
  CHECK_FALSE(Sample(m, "botwatch_process_up{collector=\"bot\"}"));
  CHECK_FALSE(Sample(m, "botwatch_process_uptime_seconds{collector=\"bot\"}"));
  CHECK(Sample(m, "botwatch_process_restarts_total{collector=\"bot\"}") == 2.0);
  CHECK(Sample(m, "botwatch_process_last_exit_code{collector=\"bot\"}") == 5.0);
  // The start time is run 3's (read from /proc for the running pid), so it is
  // after both backoffs (100 ms + 150 ms) since the launch; /proc's boot time
  // has whole seconds, hence the 1 s allowance.
  auto start = Sample(m, "botwatch_process_start_time_seconds{collector=\"bot\"}");
  REQUIRE(start);
  double now_unix = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  double since_launch = std::chrono::duration<double>(std::chrono::steady_clock::now() - launched).count();
  CHECK(*start >= now_unix - since_launch - 1.0);
  CHECK(*start <= now_unix + 1.0);
  auto rss = Sample(m, "botwatch_process_resident_memory_bytes{collector=\"bot\"}");
  REQUIRE(rss);
  CHECK(*rss > 0);
  CommandResult lint = RunCommand({"promtool", "check", "metrics"}, m);
  INFO(lint.output);
  CHECK(lint.exit_code == 0);

  // Shutting down is not a failure: no restart, exit with the child's status.
  s.Signal(SIGTERM);
  CHECK(s.WaitExit(10s) == 143);
  CHECK(ReadWholeFile(runs) == "run\nrun\nrun\n");
}

// The entry of collector `name` in /api/v1/status (null if absent), and its position.
nlohmann::json StatusEntry(const std::string& base, const std::string& name, size_t* index = nullptr) {
  HttpResult r = HttpGet(base + "/api/v1/status");
  if (r.status != 200) return nullptr;
  nlohmann::json cs = nlohmann::json::parse(r.body)["data"]["collectors"];
  for (size_t i = 0; i < cs.size(); ++i) {
    if (cs[i]["name"] == name) {
      if (index) *index = i;
      return cs[i];
    }
  }
  return nullptr;
}

TEST_CASE("supervise: the child is a process collector: up while it runs, 0 while it is down, in the status API") {
  TempDir dir;
  std::string runs = dir.path() + "/runs", crash = dir.path() + "/crash";
  // The first run waits for the test to say crash, then exits 5; the second stays up.
  Supervised s(dir,
               "echo run >> '" + runs + "'; n=$(wc -l < '" + runs +
                   "'); echo \"run $n\"; "
                   "while [ ! -e '" +
                   crash + "' ] || [ $n -gt 1 ]; do sleep 0.02; done; exit 5",
               {"--supervise.restart=on-failure", "--supervise.restart-backoff=1500ms", "--supervise.name=bot"});
  REQUIRE(s.WaitStdout("run 1"));
  int port = s.Port();
  REQUIRE(port > 0);
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  const std::string up = "botwatch_collector_up{collector=\"bot\",type=\"process\"}";
  std::string m;

  // Running: up, listed first in the status API (before the configured "me"),
  // and the summary's system numbers are the child's.
  REQUIRE(Eventually(
      [&] {
        m = HttpGet(base + "/metrics").body;
        return Sample(m, up) == 1.0;
      },
      5s));
  CHECK(Sample(m, "botwatch_collector_last_success_timestamp_seconds{collector=\"bot\",type=\"process\"}") > 0);
  size_t index = 99;
  nlohmann::json entry = StatusEntry(base, "bot", &index);
  INFO(entry.dump());
  REQUIRE(entry.is_object());
  CHECK(index == 0);
  CHECK(entry["type"] == "process");
  CHECK(entry["checked"] == true);
  CHECK(entry["up"] == true);
  CHECK(entry["reason"] == "ok");
  CHECK(StatusEntry(base, "me").is_object());
  nlohmann::json summary = nlohmann::json::parse(HttpGet(base + "/api/v1/summary").body);
  CHECK(summary["system"]["memory_mb"].is_number());

  // It crashes: 0 at once, with the reason, for the whole backoff.
  std::ofstream(crash).put('x');
  REQUIRE(Eventually(
      [&] {
        m = HttpGet(base + "/metrics").body;
        return Sample(m, up) == 0.0;
      },
      2s));
  CHECK(Sample(m, "botwatch_process_last_exit_code{collector=\"bot\"}") == 5.0);
  {
    CommandResult lint = RunCommand({"promtool", "check", "metrics"}, m);
    INFO(lint.output);
    CHECK(lint.exit_code == 0);
  }
  CHECK(Eventually(
      [&] {
        entry = StatusEntry(base, "bot");
        return entry["up"] == false && entry["reason"] == "exited" &&
               entry["last_error"] == "exited with code 5; restarting in 1s500ms";
      },
      1s));
  INFO(entry.dump());
  CHECK(!entry["last_success"].get<std::string>().empty());
  CHECK(s.Stdout() == "run 1\n");  // still in the backoff

  // Restarted: 1 again.
  REQUIRE(s.WaitStdout("run 2"));
  REQUIRE(Eventually(
      [&] {
        m = HttpGet(base + "/metrics").body;
        return Sample(m, up) == 1.0;
      },
      5s));
  CHECK(Sample(m, "botwatch_process_restarts_total{collector=\"bot\"}") == 1.0);
  CHECK(StatusEntry(base, "bot")["up"] == true);
  CommandResult lint = RunCommand({"promtool", "check", "metrics"}, m);
  INFO(lint.output);
  CHECK(lint.exit_code == 0);

  s.Signal(SIGTERM);
  CHECK(s.WaitExit(10s) == 143);
}

TEST_CASE("supervise: a configured collector cannot take the child's name") {
  TempDir dir;
  std::string config =
      dir.Write("botwatch.yaml", "collectors:\n  - {name: bot, type: process, process_name: botwatch}\n");
  CommandResult r = RunCommand({BOTWATCH_BINARY, "run", "--config.file=" + config, "--web.listen-address=127.0.0.1:0",
                                "--supervise.name=bot", "--", "/bin/sh", "-c", "echo started"});
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("collector name \\\"bot\\\" is taken by the supervised child") != std::string::npos);
  CHECK(r.output.find("started\n") == std::string::npos);  // the child never ran
}

TEST_CASE("supervise: a child that keeps failing stops being restarted only on shutdown") {
  TempDir dir;
  Supervised s(
      dir, "echo x; exit 9",
      {"--supervise.restart=on-failure", "--supervise.restart-backoff=20ms", "--supervise.restart-backoff-max=40ms"});
  REQUIRE(Eventually([&] { return s.Stdout().size() >= 8; }, 10s));  // at least four runs
  s.Signal(SIGTERM);
  CHECK(s.WaitExit(10s) == 9);
}

// Children of `parent` by their state letter, from /proc/*/stat.
TEST_CASE("supervise: as PID 1, the bot's orphaned descendants are reaped") {
  TempDir dir;
  // unshare makes botwatch PID 1 of a new PID namespace, as in a container.
  Supervised s(dir,
               "for i in 1 2 3 4 5; do sh -c 'sleep 1 & exit 0'; done; echo spawned; "
               "while :; do sleep 0.02; done",
               {}, {"/usr/bin/unshare", "--pid", "--fork", "--kill-child"});
  REQUIRE(s.WaitStdout("spawned"));
  const pid_t botwatch = WaitForChild(s.pid(), 5s);
  REQUIRE(botwatch != 0);
  // The five sleeps were orphaned to botwatch (their parent shells exited
  // before "spawned"); once they exit, none may stay a zombie: only the bot's
  // shell remains botwatch's child.
  CHECK(ChildrenOf(botwatch).size() == 6);
  CHECK(Eventually([&] { return ChildrenOf(botwatch).size() == 1; }, 5s));
  ::kill(botwatch, SIGTERM);
  CHECK(s.WaitExit(10s) == 143);
}

TEST_CASE("supervise: what the child leaves in its process group is killed when it exits") {
  TempDir dir;
  std::string pids = dir.path() + "/pids";
  Supervised s(dir, "sleep 300 & echo $! > '" + pids + "'; exit 0");
  CHECK(s.WaitExit(10s) == 0);
  std::vector<pid_t> left = Pids(pids);
  REQUIRE(left.size() == 1);
  CHECK(Eventually([&] { return Exited(left[0]); }, 5s));
}

TEST_CASE("supervise: restarts do not pile up the previous runs' leftovers") {
  TempDir dir;
  std::string pids = dir.path() + "/pids";
  Supervised s(
      dir, "sleep 300 & echo $! >> '" + pids + "'; exit 1",
      {"--supervise.restart=on-failure", "--supervise.restart-backoff=50ms", "--supervise.restart-backoff-max=50ms"});
  REQUIRE(Eventually([&] { return Pids(pids).size() >= 3; }, 10s));
  // botwatch is still running: the leftovers of the runs that have exited are gone.
  std::vector<pid_t> left = Pids(pids);
  CHECK(Eventually([&] { return Exited(left[0]) && Exited(left[1]); }, 5s));
  s.Signal(SIGTERM);
  CHECK(s.WaitExit(10s).has_value());
}

TEST_CASE("supervise: restart backoff doubles up to the cap") {
  botwatch::SuperviseOptions o;
  o.backoff_initial = 1s;
  o.backoff_max = 30s;
  CHECK(botwatch::RestartBackoff(o, 1) == 1s);
  CHECK(botwatch::RestartBackoff(o, 2) == 2s);
  CHECK(botwatch::RestartBackoff(o, 5) == 16s);
  CHECK(botwatch::RestartBackoff(o, 6) == 30s);
  CHECK(botwatch::RestartBackoff(o, 1000) == 30s);
}

TEST_CASE("supervise: command-line parsing of run") {
  auto ok = botwatch::ParseCli(
      {"run", "--supervise.restart=on-failure", "--config.file=x.yaml", "--", "node", "src/index.js", "--port=3"});
  REQUIRE(ok.ok());
  CHECK(ok->command == botwatch::CliOptions::Command::kRun);
  CHECK(ok->config_file == "x.yaml");
  CHECK(ok->supervise.restart == botwatch::SuperviseOptions::Restart::kOnFailure);
  CHECK(ok->supervise.command == std::vector<std::string>{"node", "src/index.js", "--port=3"});
  CHECK(botwatch::ParseCli({"run"}).status().message() ==
        "run: missing -- COMMAND (e.g. botwatch run -- node src/index.js)");
  CHECK(botwatch::ParseCli({"run", "--"}).status().message() == "run: no command after --");
  CHECK(botwatch::ParseCli({"run", "node"}).status().message() ==
        "run: unexpected argument \"node\"; put the command after --");
  CHECK(botwatch::ParseCli({"run", "--supervise.restart=always", "--", "x"}).status().message() ==
        "invalid --supervise.restart \"always\" (use never or on-failure)");
  CHECK(botwatch::ParseCli({"--supervise.restart=on-failure"}).status().message() ==
        "unknown flag --supervise.restart; see botwatch --help");
  CHECK(botwatch::ParseCli({"run", "--supervise.restart-backoff=5s", "--supervise.restart-backoff-max=1s", "--", "x"})
            .status()
            .message() == "--supervise.restart-backoff-max is lower than --supervise.restart-backoff");
}

TEST_CASE("supervise: a stopped child is frozen, not up, and /-/healthy?require= says so") {
  TempDir dir;
  std::string pidfile = dir.path() + "/bot.pid";
  // The same process seen twice: as the supervised child and through a
  // `process` collector on its pidfile.
  std::string config = dir.Write("botwatch.yaml", "collectors:\n  - {name: bot-pid, type: process, pidfile: '" +
                                                      pidfile + "', interval: 200ms}\n");
  SupervisedRun s(dir.path(), config, "echo $$ > '" + pidfile + "'; echo started; while :; do sleep 0.02; done",
                  {"--supervise.name=bot"});
  REQUIRE(s.WaitStdout("started"));
  int port = s.Port();
  REQUIRE(port > 0);
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  const std::string healthy = base + "/-/healthy?require=bot,bot-pid";
  REQUIRE(Eventually([&] { return HttpGet(healthy).status == 200; }, 5s));
  CHECK(HttpGet(healthy).body == "Healthy\n");
  pid_t child = std::stoi(ReadWholeFile(pidfile));

  REQUIRE(::kill(child, SIGSTOP) == 0);
  HttpResult frozen;
  CHECK(Eventually(
      [&] {
        frozen = HttpGet(healthy);
        return frozen.body == "bot: down (frozen)\nbot-pid: down (frozen)\n";
      },
      3s));
  CHECK(frozen.status == 503);
  CHECK(HttpGet(base + "/-/healthy/bot,bot-pid").body == frozen.body);  // the path form says the same
  CHECK(HttpGet(base + "/-/healthy").status == 200);                    // botwatch itself still serves
  nlohmann::json entry = StatusEntry(base, "bot");
  INFO(entry.dump());
  CHECK(entry["up"] == false);
  CHECK(entry["reason"] == "frozen");
  CHECK(entry["last_error"].get<std::string>().find("is stopped (state T") != std::string::npos);
  std::string m = HttpGet(base + "/metrics").body;
  CHECK(Sample(m, "botwatch_collector_up{collector=\"bot-pid\",type=\"process\"}") == 0.0);

  REQUIRE(::kill(child, SIGCONT) == 0);
  CHECK(Eventually([&] { return HttpGet(healthy).status == 200; }, 3s));
  CHECK(StatusEntry(base, "bot")["reason"] == "ok");

  // Unknown names are a 400 that lists the known ones.
  HttpResult unknown = HttpGet(base + "/-/healthy?require=bott");
  CHECK(unknown.status == 400);
  CHECK(unknown.body == "unknown collector \"bott\" in require=; known: bot, bot-pid\n");
  s.Signal(SIGTERM);
  CHECK(s.WaitExit(10s) == 143);
}
