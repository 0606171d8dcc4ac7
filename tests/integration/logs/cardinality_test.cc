// Cardinality attack against the real daemon: a log with 1 000 000 distinct
// values in a field that is a label. The series count must stay at the bound
// (max_series plus the one overflow series), every folded sample must be
// counted in botwatch_log_series_dropped_total, nothing may be lost from the
// totals, and the resident memory must stay bounded (measured before/after).

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>

#include "tests/support/botwatch_process.h"
#include "tests/support/http_client.h"
#include "tests/support/probe_helpers.h"
#include "tests/support/proc_stats.h"
#include "tests/support/temp_dir.h"

using namespace botwatch::testing;
using namespace std::chrono_literals;

TEST_CASE("cardinality: 1 000 000 distinct label values stay at the series bound with bounded memory") {
  constexpr int kLines = 1000000;
  constexpr int kBound = 100;
  TempDir dir;
  std::filesystem::create_directories(dir.path() + "/logs");
  std::string config = dir.Write(
      "botwatch.yaml",
      "logs:\n"
      "  - name: app\n"
      "    path: '" +
          dir.path() +
          "/logs/*.log'\n"
          "    start_at: beginning\n"
          "    poll_interval: 50ms\n"
          "    identifiers: [user]\n"
          "    rules:\n"
          "      - {metric: requests_total, type: counter, label_fields: {path: path}, max_series: 100}\n"
          "      - {metric: last_ms, type: gauge, value_field: ms, label_fields: {path: path}, max_series: 100}\n"
          "      - {metric: users, type: distinct, value_field: user, windows: [30m]}\n");
  Botwatch bw(config, dir.path(), {}, MemoryBoundEnv());
  REQUIRE(bw.WaitStarted());
  auto metrics = [&] { return HttpGet(bw.Url("/metrics"), 5000).body; };
  // Warm-up: a few lines, so the baseline includes the pipeline's own buffers.
  std::string log = dir.path() + "/logs/app.log";
  int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  REQUIRE(fd >= 0);
  auto write_all = [&](const std::string& s) {
    REQUIRE(::write(fd, s.data(), s.size()) == static_cast<ssize_t>(s.size()));
  };
  write_all("{\"path\":\"/warm\",\"user\":\"w\",\"ms\":1}\n");
  REQUIRE(Eventually(
      [&] {
        return ScrapeValue(metrics(), "requests_total{source=\"app\",path=\"/warm\"}") == 1.0 ||
               ScrapeValue(metrics(), "requests_total{path=\"/warm\"}") == 1.0;
      },
      10s));
  long rss_before = RssKiB(bw.process().pid());

  std::string block;
  char line[96];
  for (int i = 0; i < kLines; ++i) {
    int n =
        std::snprintf(line, sizeof line, "{\"path\":\"/attack/%07d\",\"user\":\"u%07d\",\"ms\":%d}\n", i, i, i % 1000);
    block.append(line, static_cast<size_t>(n));
    if (block.size() > (1 << 20)) {
      write_all(block);
      block.clear();
    }
  }
  write_all(block);
  ::close(fd);

  const double total = kLines + 1;
  REQUIRE(Eventually([&] { return ScrapeValue(metrics(), "botwatch_log_lines_total{source=\"app\"}") == total; }, 60s,
                     100ms));
  std::string text = metrics();
  long rss_after = RssKiB(bw.process().pid());
  long peak = PeakRssKiB(bw.process().pid());

  size_t series = 0, overflow = 0;
  double sum = 0;
  for (size_t pos = text.find("\nrequests_total{"); pos != std::string::npos;
       pos = text.find("\nrequests_total{", pos + 1)) {
    ++series;
    size_t end = text.find('\n', pos + 1);
    std::string l = text.substr(pos + 1, end - pos - 1);
    if (l.find("__overflow__") != std::string::npos) ++overflow;
    sum += std::stod(l.substr(l.rfind(' ') + 1));
  }
  std::printf("cardinality: %d lines, %zu series, RSS %ld KiB -> %ld KiB (peak %ld KiB)\n", kLines + 1, series,
              rss_before, rss_after, peak);
  CHECK(series == kBound + 1);
  CHECK(overflow == 1);
  CHECK(sum == total);  // nothing lost: the overflow series holds the rest
  // Folded samples: every line past the bound, once per labelled metric.
  const double folded = total - kBound;
  CHECK(ScrapeValue(text, "botwatch_log_series_dropped_total{metric=\"requests_total\"}") == folded);
  CHECK(ScrapeValue(text, "botwatch_log_series_dropped_total{metric=\"last_ms\"}") == folded);
  // The distinct sketch counts about a million users in a fixed 52 KiB.
  auto users = ScrapeValue(text, "users{window=\"30m\"}");
  if (!users) users = ScrapeValue(text, "users{source=\"app\",window=\"30m\"}");
  REQUIRE(users);
  CHECK(*users > total * 0.95);
  CHECK(*users < total * 1.05);
  CHECK(rss_after - rss_before < 8 * 1024 * kRssBoundScale);  // 1 M distinct values, under 8 MiB more
  CHECK(bw.process().WaitExit(0ms) == std::nullopt);
}
