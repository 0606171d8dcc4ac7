// The summary's "bot" (system memory, CPU, uptime) is never botwatch's own
// process: without a supervised child it is the first other process collector
// that is up, whatever the order of the config.

#include <catch2/catch.hpp>

#include <cmath>

#include "agent/summary.h"
#include "agent/summary_metrics.h"

using namespace botwatch;

namespace {

std::shared_ptr<const CollectorSnapshot> Process(const std::string& name, bool up, double rss_mib, double is_botwatch) {
  auto s = std::make_shared<CollectorSnapshot>();
  s->spec.name = name;
  s->spec.type = "process";
  s->has_run = true;
  s->up = up;
  s->last_check_unix = 1000;
  auto gauge = [&](const char* family, double v) {
    Family f;
    f.name = family;
    f.type = prometheus::MetricType::Gauge;
    Family::Metric m;
    m.gauge.value = v;
    f.metric.push_back(m);
    s->families.push_back(f);
  };
  gauge(summary_metrics::kProcessMemory, rss_mib * 1024 * 1024);
  if (is_botwatch >= 0) gauge(summary_metrics::kProcessIsBotwatch, is_botwatch);
  return s;
}

double MemoryMb(const nlohmann::json& summary) {
  const auto& v = summary["system"]["memory_mb"];
  return v.is_number() ? v.get<double>() : std::nan("");
}

}  // namespace

TEST_CASE("summary: botwatch watching itself is never the bot, whatever the order") {
  SummaryBuilder b;
  // config/botwatch.yaml's order: self (botwatch) first, then the bot.
  CHECK(MemoryMb(b.Summary(2000, 0, nullptr, {Process("self", true, 12, 1), Process("bot", true, 300, 0)})) == 300);
  // The bot down: no numbers rather than botwatch's.
  CHECK(std::isnan(MemoryMb(b.Summary(2000, 0, nullptr, {Process("self", true, 12, 1), Process("bot", false, 0, 0)}))));
  // Only botwatch watched: nothing to show.
  CHECK(std::isnan(MemoryMb(b.Summary(2000, 0, nullptr, {Process("self", true, 12, 1)}))));
  // A process collector from before the flag (or any other) is still a bot.
  CHECK(MemoryMb(b.Summary(2000, 0, nullptr, {Process("worker", true, 40, -1)})) == 40);
  CHECK_FALSE(WatchesBotwatch(*Process("bot", true, 300, 0)));
  CHECK(WatchesBotwatch(*Process("self", true, 12, 1)));
}
