#include <catch2/catch.hpp>
#include <filesystem>

#include "collectors/lib/procfs.h"
#include "collectors/process.h"
#include "tests/support/temp_dir.h"

using namespace botwatch;

TEST_CASE("/proc/PID/stat parses, including a comm with spaces and parentheses") {
  std::string text =
      "4242 (node (worker) 1) S 1 4242 4242 0 -1 4194560 12345 0 0 0 250 75 0 0 20 0 11 0 "
      "987654 1234567168 51200 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n";
  Result<ProcStat> st = ParseProcStat(text);
  REQUIRE(st.ok());
  CHECK(st->pid == 4242);
  CHECK(st->comm == "node (worker) 1");
  CHECK(st->state == 'S');
  CHECK(st->utime_ticks == 250);
  CHECK(st->stime_ticks == 75);
  CHECK(st->num_threads == 11);
  CHECK(st->starttime_ticks == 987654);
  CHECK(st->vsize_bytes == 1234567168ULL);
  CHECK(st->rss_pages == 51200);
}

TEST_CASE("malformed stat lines are errors, not crashes") {
  for (const char* bad : {"", "garbage", "12 (x) S 1 2", "x (y) S 1 1 1 0 -1 0 0 0 0 0 a b 0 0 20 0 1 0 1 1 1\n"}) {
    INFO(bad);
    CHECK_FALSE(ParseProcStat(bad).ok());
  }
}

TEST_CASE("boot time and fd limit parse from their files") {
  CHECK(ParseBootTime("cpu  1 2 3\nbtime 1700000000\nprocesses 5\n").value() == 1700000000.0);
  CHECK_FALSE(ParseBootTime("cpu 1\n").ok());
  std::string limits =
      "Limit                     Soft Limit           Hard Limit           Units     \n"
      "Max open files            1024                 524288               files     \n";
  CHECK(ParseMaxOpenFiles(limits).value() == std::optional<uint64_t>(1024));
  CHECK(ParseMaxOpenFiles("Max open files            unlimited            unlimited            files\n").value() ==
        std::nullopt);
}

TEST_CASE("cgroup v2 path and memory.max parse from their files") {
  CHECK(ParseCgroupV2Path("0::/system.slice/bot.service\n") == std::optional<std::string>("/system.slice/bot.service"));
  CHECK(ParseCgroupV2Path("12:memory:/docker/abc\n0::/\n") == std::optional<std::string>("/"));
  CHECK(ParseCgroupV2Path("12:memory:/docker/abc\n1:name=systemd:/docker/abc\n") == std::nullopt);  // v1 only
  CHECK(ParseMemoryMax("536870912\n").value() == std::optional<uint64_t>(536870912));
  CHECK(ParseMemoryMax("max\n").value() == std::nullopt);
  CHECK_FALSE(ParseMemoryMax("lots\n").ok());
}

TEST_CASE("the memory limit is the tightest memory.max from the process's cgroup up to the root") {
  botwatch::testing::TempDir dir;
  std::filesystem::copy(std::string(BOTWATCH_FIXTURES) + "/proc", dir.path() + "/proc",
                        std::filesystem::copy_options::recursive);
  std::filesystem::create_directories(dir.path() + "/cgroup/bot.slice/bot.service");
  dir.Write("proc/100/cgroup", "0::/bot.slice/bot.service\n");
  dir.Write("cgroup/bot.slice/bot.service/memory.max", "max\n");  // the unit sets none...
  dir.Write("cgroup/bot.slice/memory.max", "536870912\n");        // ...its slice does
  ProcFs fs(dir.path() + "/proc", dir.path() + "/cgroup");
  CHECK(fs.Sample(100).value().memory_limit_bytes == 536870912.0);
  dir.Write("cgroup/bot.slice/bot.service/memory.max", "268435456\n");
  CHECK(fs.Sample(100).value().memory_limit_bytes == 268435456.0);
  // No limit anywhere, or no cgroup v2 line: nothing to export.
  dir.Write("cgroup/bot.slice/bot.service/memory.max", "max\n");
  dir.Write("cgroup/bot.slice/memory.max", "max\n");
  CHECK(fs.Sample(100).value().memory_limit_bytes == -1);
  dir.Write("proc/100/cgroup", "4:memory:/bot\n");
  CHECK(fs.Sample(100).value().memory_limit_bytes == -1);
}

TEST_CASE("the process collector reads a fixture /proc tree and follows a restart") {
  std::string root = std::string(BOTWATCH_FIXTURES) + "/proc";
  ProcessCollector c(ProcessCollector::Selector::kProcessName, "node", root);
  ProbeResult r = c.Collect(ProbeContext{std::chrono::steady_clock::now() + std::chrono::seconds(1)});
  REQUIRE(r.up);
  auto value = [&](const std::string& name) {
    for (const auto& f : r.families) {
      if (f.name == name) return f.metric.at(0).gauge.value + f.metric.at(0).counter.value;
    }
    FAIL("no family " << name);
    return 0.0;
  };
  // pid 100 and 200 are both "node"; the older (smaller start time) one, 100, is watched.
  CHECK(value("botwatch_process_threads") == 7);
  CHECK(value("botwatch_process_resident_memory_bytes") == 2500.0 * ::sysconf(_SC_PAGESIZE));
  CHECK(value("botwatch_process_cpu_seconds_total") == Approx(300.0 / ::sysconf(_SC_CLK_TCK)));
  CHECK(value("botwatch_process_start_time_seconds") == Approx(1700000000.0 + 5000.0 / ::sysconf(_SC_CLK_TCK)));
  CHECK(value("botwatch_process_max_fds") == 4096);
  CHECK(value("botwatch_process_open_fds") == 3);
  CHECK(value("botwatch_process_restarts_total") == 0);

  ProcessCollector missing(ProcessCollector::Selector::kProcessName, "python3", root);
  ProbeResult m = missing.Collect(ProbeContext{std::chrono::steady_clock::now() + std::chrono::seconds(1)});
  CHECK_FALSE(m.up);
  CHECK(m.reason == "not_found");
  CHECK(m.message == "no process with name \"python3\"");
}

TEST_CASE("a restarted process is followed to its new pid and counted") {
  botwatch::testing::TempDir dir;
  std::filesystem::copy(std::string(BOTWATCH_FIXTURES) + "/proc", dir.path() + "/proc",
                        std::filesystem::copy_options::recursive);
  ProcessCollector c(ProcessCollector::Selector::kCmdline, "^node .*index\\.js$", dir.path() + "/proc");
  auto probe = [&] { return c.Collect(ProbeContext{std::chrono::steady_clock::now() + std::chrono::seconds(1)}); };
  auto restarts = [](const ProbeResult& r) {
    for (const auto& f : r.families) {
      if (f.name == "botwatch_process_restarts_total") return f.metric.at(0).counter.value;
    }
    return -1.0;
  };
  REQUIRE(probe().up);
  // The bot dies: down, restart count unchanged and still exported.
  std::filesystem::remove_all(dir.path() + "/proc/100");
  ProbeResult gone = probe();
  CHECK_FALSE(gone.up);
  CHECK(restarts(gone) == 0);
  // It comes back under a new pid.
  std::filesystem::create_directories(dir.path() + "/proc/400/fd");
  dir.Write("proc/400/stat",
            "400 (node) S 1 400 400 0 -1 0 0 0 0 0 1 1 0 0 20 0 2 0 9999 100000 300 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 "
            "0 0\n");
  dir.Write("proc/400/cmdline", std::string("node\0src/index.js\0", 18));
  ProbeResult back = probe();
  CHECK(back.up);
  CHECK(restarts(back) == 1);
  CHECK(restarts(probe()) == 1);  // same process again: no new restart
}
