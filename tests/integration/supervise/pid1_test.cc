// Issue 28 item 4: as PID 1 of a container without an init, the supervised
// bot's `setsid` grandchildren (Node's spawn({detached: true})) and an exec
// check's detached leftovers became zombies that were never reaped; after
// `kill -9` of `botwatch run` the bot kept running, and a restarted botwatch
// started a second copy of it.

#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <vector>

#include "tests/support/botwatch_process.h"
#include "tests/support/http_client.h"
#include "tests/support/proc_tree.h"
#include "tests/support/supervised_run.h"
#include "tests/support/temp_dir.h"
#include "tests/support/time_scale.h"

using namespace botwatch::testing;
using namespace std::chrono_literals;

namespace {

// Runs botwatch as PID 1 of a PID namespace of its own, with its own /proc, as in a container.
const std::vector<std::string> kPid1OfNewNamespace = {"/usr/bin/unshare", "--pid", "--fork", "--kill-child",
                                                      "--mount-proc"};

}  // namespace

TEST_CASE("PID 1: the bot's setsid grandchildren and an exec check's are reaped, and the checks keep their status") {
  TempDir dir;
  // The check leaves two detached sleeps behind on every run (outside its
  // process group, so its group kill misses them) and exits 0 at once (their
  // stdout is not the check's, so it does not wait for them).
  const std::string config =
      dir.Write("botwatch.yaml",
                "collectors:\n"
                "  - {name: check, type: exec, interval: " +
                    std::to_string(500 * kTimeBoundScale) + "ms, timeout: " + std::to_string(400 * kTimeBoundScale) +
                    "ms, output: ignore, command: /bin/sh,\n"
                    "     args: [-c, \"(setsid sleep 0.4 >/dev/null &); (setsid sleep 0.4 >/dev/null &); exit 0\"]}\n");
  // The bot starts five detached (setsid) workers from a helper that exits at
  // once, as Node's spawn({detached: true}) + unref() does, then exits 1 and
  // is restarted: every run orphans five more.
  SupervisedRun s(
      dir.path(), config, "for i in 1 2 3 4 5; do (setsid sleep 0.6 &); done; echo spawned; sleep 0.3; exit 1",
      {"--supervise.restart=on-failure", "--supervise.restart-backoff=100ms", "--supervise.restart-backoff-max=100ms"},
      kPid1OfNewNamespace);
  REQUIRE(s.WaitStdout("spawned"));
  const pid_t botwatch = WaitForChild(s.pid(), 5s);
  REQUIRE(botwatch != 0);
  // The workers were orphaned to botwatch (PID 1 here) in sessions of their own.
  size_t adopted = 0;
  REQUIRE(Eventually(
      [&] {
        for (const ProcEntry& e : ChildrenOf(botwatch)) adopted = std::max<size_t>(adopted, e.session == e.pid);
        return adopted > 0;
      },
      5s));
  // Over three seconds (several bot restarts and about six exec runs, each
  // leaving orphans that exit), zombies never pile up: each is reaped within
  // a few hundred milliseconds.
  size_t worst = 0;
  auto until = std::chrono::steady_clock::now() + 3s;
  while (std::chrono::steady_clock::now() < until) {
    worst = std::max(worst, Zombies(botwatch));
    std::this_thread::sleep_for(50ms);
  }
  // Before: about 50 by now (five per bot run, two per check), never going down.
  CHECK(worst < 15);
  REQUIRE(s.Port() != 0);
  // The exec check's own exit status was never taken by the reaper: it is up
  // with exit code 0 (a stolen status reads as a failure).
  std::string metrics = HttpGet(s.Url("/metrics")).body;
  CHECK(metrics.find("botwatch_exec_exit_code{collector=\"check\"} 0") != std::string::npos);
  CHECK(metrics.find("botwatch_collector_up{collector=\"check\",type=\"exec\"} 1") != std::string::npos);
  CHECK(metrics.find("botwatch_collector_errors_total{collector=\"check\"") == std::string::npos);
  // Restarts are counted from the bot's own statuses (exit 1), not lost ones.
  CHECK(s.Stderr().find("exit_code=1") != std::string::npos);
  ::kill(botwatch, SIGTERM);
  CHECK(s.WaitExit(15s).has_value());
  // Once the last orphans exit, none stays a zombie... of a botwatch that is
  // gone: the namespace is torn down with its PID 1.
}

TEST_CASE("PID 1: after the orphans exit, botwatch has no zombie children left") {
  TempDir dir;
  SupervisedRun s(dir.path(),
                  dir.Write("botwatch.yaml", "collectors:\n  - {name: me, type: process, process_name: botwatch}\n"),
                  "for i in 1 2 3 4 5 6 7 8; do (setsid sh -c 'sleep 0.5' &); done; echo spawned; exec sleep 600", {},
                  kPid1OfNewNamespace);
  REQUIRE(s.WaitStdout("spawned"));
  const pid_t botwatch = WaitForChild(s.pid(), 5s);
  REQUIRE(botwatch != 0);
  // Eight detached workers plus the bot, then only the bot.
  CHECK(Eventually([&] { return ChildrenOf(botwatch).size() >= 9; }, 2s, 5ms));
  CHECK(Eventually([&] { return ChildrenOf(botwatch).size() == 1; }, 5s));
  std::this_thread::sleep_for(300ms);
  CHECK(ChildrenOf(botwatch).size() == 1);
  CHECK(Zombies(botwatch) == 0);
  ::kill(botwatch, SIGTERM);
  CHECK(s.WaitExit(15s).has_value());
}

TEST_CASE("kill -9 of botwatch run stops the bot, and a restarted botwatch runs one copy") {
  TempDir dir;
  const std::string pids = dir.path() + "/pids";
  const std::string config =
      dir.Write("botwatch.yaml", "collectors:\n  - {name: me, type: process, process_name: botwatch}\n");
  const std::string bot = "echo $$ >> '" + pids + "'; echo up; exec sleep 600";
  std::filesystem::create_directories(dir.path() + "/1");
  std::filesystem::create_directories(dir.path() + "/2");
  auto first = std::make_unique<SupervisedRun>(dir.path() + "/1", config, bot);
  REQUIRE(first->WaitStdout("up"));
  REQUIRE(Pids(pids).size() == 1);
  const pid_t bot1 = Pids(pids)[0];
  CHECK_FALSE(Exited(bot1));
  first->Signal(SIGKILL);
  CHECK(first->WaitExit(5s) == 128 + SIGKILL);
  // No chance to forward anything: the kernel's parent-death signal stops it.
  CHECK(Eventually([&] { return Exited(bot1); }, 5s));

  SupervisedRun second(dir.path() + "/2", config, bot);
  REQUIRE(second.WaitStdout("up"));
  std::vector<pid_t> all = Pids(pids);
  REQUIRE(all.size() == 2);
  CHECK(Exited(all[0]));
  CHECK_FALSE(Exited(all[1]));
  second.Signal(SIGTERM);
  CHECK(second.WaitExit(15s) == 143);
}
