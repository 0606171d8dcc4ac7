// botwatch is never "the bot": with config/botwatch.yaml as shipped (its `self`
// process collector, which watches botwatch, listed first), the summary's
// system numbers and the status page's choice are the supervised child's, and
// nothing of botwatch's own while the child is down.
//
// botwatch runs in a PID namespace of its own (unshare), so `process_name:
// botwatch` can only find this botwatch, never another test's.

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>

#include "tests/support/botwatch_process.h"
#include "tests/support/http_client.h"
#include "tests/support/probe_helpers.h"
#include "tests/support/supervised_run.h"
#include "tests/support/temp_dir.h"

using namespace botwatch::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

// A child plainly bigger than botwatch, and a bound botwatch stays under. Under
// AddressSanitizer botwatch itself is about 160 MB (shadow memory, quarantine).
#if defined(__SANITIZE_ADDRESS__)
constexpr int kChildMiB = 512;
constexpr int kOwnBoundMiB = 384;
#else
constexpr int kChildMiB = 96;
constexpr int kOwnBoundMiB = 64;
#endif

json Status(const std::string& base) { return json::parse(HttpGet(base + "/api/v1/status").body); }

json Entry(const json& status, const std::string& name) {
  for (const auto& c : status["data"]["collectors"]) {
    if (c["name"] == name) return c;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("the bot: with config/botwatch.yaml's order, the summary and status take the child, never botwatch") {
  TempDir dir;
  const std::string crash = dir.path() + "/crash";
  // A child plainly bigger than botwatch: kChildMiB touched, then it waits for
  // the test to make it fail (exit 7: restarted only after a long backoff).
  const std::string script =
      "exec python3 -c \"import os, sys, time\n"
      "b = bytearray(" +
      std::to_string(kChildMiB) +
      " << 20)\n"
      "for i in range(0, len(b), 4096): b[i] = 1\n"
      "print('ready', flush=True)\n"
      "while not os.path.exists('" +
      crash +
      "'): time.sleep(0.02)\n"
      "sys.exit(7)\"";
  SupervisedRun run(dir.path(), std::string(BOTWATCH_SOURCE_DIR) + "/config/botwatch.yaml", script,
                    {"--supervise.restart=on-failure", "--supervise.restart-backoff=30s"},
                    {"/usr/bin/unshare", "--pid", "--fork", "--kill-child", "--mount-proc"});
  bool ready = run.WaitStdout("ready", 30s);
  INFO(run.Stderr());
  REQUIRE(ready);
  REQUIRE(Eventually([&] { return run.Port() > 0; }, 10s));
  const std::string base = run.Url("");

  // `self` watches this botwatch, and says so on /metrics and in the status API.
  std::string metrics;
  REQUIRE(Eventually(
      [&] {
        metrics = HttpGet(base + "/metrics").body;
        return ScrapeValue(metrics, "botwatch_process_is_botwatch{collector=\"self\"}") == 1.0;
      },
      15s));
  double own_rss = ScrapeValue(metrics, "process_resident_memory_bytes").value_or(0);
  REQUIRE(own_rss > 0);
  CHECK(own_rss < kOwnBoundMiB * double(1 << 20));
  json status = Status(base);
  INFO(status.dump());
  CHECK(status["data"]["collectors"][0]["name"] == "supervised");
  CHECK(Entry(status, "supervised")["is_botwatch"] == false);
  CHECK(Entry(status, "self")["is_botwatch"] == true);
  CHECK(Entry(status, "self")["up"] == true);
  CHECK(Entry(status, "self-health")["is_botwatch"].is_null());  // only process collectors say

  // The summary's memory is the child's kChildMiB and more, not botwatch's.
  json summary;
  REQUIRE(Eventually(
      [&] {
        summary = json::parse(HttpGet(base + "/api/v1/summary").body);
        return summary["system"]["memory_mb"].is_number() && summary["system"]["memory_mb"].get<double>() >= kChildMiB;
      },
      10s));
  INFO(summary.dump());

  // The child fails and waits out its backoff: the bot is down, and botwatch,
  // up and listed as a process collector, does not stand in for it.
  std::ofstream(crash).put('x');
  REQUIRE(Eventually([&] { return Entry(Status(base), "supervised")["up"] == false; }, 5s));
  CHECK(Entry(Status(base), "self")["up"] == true);
  summary = json::parse(HttpGet(base + "/api/v1/summary").body);
  INFO(summary.dump());
  CHECK(summary["system"]["memory_mb"].is_null());
  CHECK(summary["system"]["cpu_percent"].is_null());
}
