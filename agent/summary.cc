#include "agent/summary.h"
#include "agent/summary_metrics.h"
#include "base/unix_time.h"

#include <cmath>
#include <ctime>
#include <string>

namespace botwatch {
namespace {

namespace names = summary_metrics;

nlohmann::json NumberOrNull(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }
nlohmann::json CountOrNull(double v) {
  return std::isfinite(v) ? nlohmann::json(static_cast<int64_t>(std::llround(v))) : nlohmann::json(nullptr);
}
double Round1(double v) { return std::round(v * 10) / 10; }

// The first sample's value of family `name` in a snapshot, summed over samples; NaN if absent.
double FamilySum(const CollectorSnapshot& s, const std::string& name) {
  for (const auto& f : s.families) {
    if (f.name != name || f.metric.empty()) continue;
    double total = 0;
    for (const auto& m : f.metric) {
      total += f.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
    }
    return total;
  }
  return std::nan("");
}

}  // namespace

bool WatchesBotwatch(const CollectorSnapshot& s) {
  return s.spec.type == "process" && FamilySum(s, names::kProcessIsBotwatch) == 1;
}

namespace {

// The log-derived numbers of the summary; NaN without a store.
struct LogNumbers {
  double total = std::nan(""), last_hour = std::nan(""), last_day = std::nan(""), avg_ms = std::nan("");
  double users = std::nan(""), today = std::nan(""), week = std::nan("");
};

LogNumbers ReadLogNumbers(const MetricStore& store, double now) {
  LogNumbers n;
  n.total = store.Value(names::kMessages, names::kInboundLabels);
  std::vector<double> minutes = store.History(names::kMessages, now);
  if (!minutes.empty()) {
    n.last_day = 0;
    n.last_hour = 0;
    for (size_t i = 0; i < minutes.size(); ++i) {
      n.last_day += minutes[i];
      if (i + 60 >= minutes.size()) n.last_hour += minutes[i];
    }
  }
  double sum = 0, count = 0;
  if (store.HistogramTotals(names::kResponseTime, &sum, &count) && count > 0) {
    n.avg_ms = Round1(sum / count * 1000);
  }
  n.users = store.DistinctEstimate(names::kActiveUsers, names::kUsersTotalWindow, now);
  n.today = store.DistinctEstimate(names::kActiveUsers, names::kUsersTodayWindow, now);
  n.week = store.DistinctEstimate(names::kActiveUsers, names::kUsersWeekWindow, now);
  return n;
}

// The keys are the ones bot admin UIs already read; their units are
// stated here because the names cannot change (memory_mb is MiB).
nlohmann::json SummaryUnits() {
  return {
      {"timestamp", "ISO 8601, UTC"},
      {"uptime", "seconds"},
      {"messages",
       {{"total", "messages"},
        {"last_hour", "messages"},
        {"last_24h", "messages"},
        {"avg_response_time", "milliseconds"}}},
      {"users",
       {{"total", "users (estimate)"}, {"active_today", "users (estimate)"}, {"active_this_week", "users (estimate)"}}},
      {"system",
       {{"memory_mb", "MiB (2^20 bytes)"},
        {"cpu_percent", "percent of one CPU core"},
        {"database_connections", "connections"}}}};
}

}  // namespace

nlohmann::json SummaryBuilder::Summary(double now, double botwatch_start, const MetricStore* store,
                                       const std::vector<std::shared_ptr<const CollectorSnapshot>>& snapshots) {
  LogNumbers from_logs = store ? ReadLogNumbers(*store, now) : LogNumbers();
  double memory_mb = std::nan(""), db_connections = std::nan(""), uptime = now - botwatch_start;
  double cpu_percent = std::nan("");
  const CollectorSnapshot* bot = nullptr;
  for (const auto& s : snapshots) {
    if (!bot && s->spec.type == "process" && s->up && !WatchesBotwatch(*s)) bot = s.get();
    if (s->spec.type == "postgres" && s->up && !std::isfinite(db_connections)) {
      db_connections = FamilySum(*s, names::kPostgresConnections);
    }
  }
  if (bot) {
    double rss = FamilySum(*bot, names::kProcessMemory);
    if (std::isfinite(rss)) memory_mb = Round1(rss / (1024 * 1024));
    double started = FamilySum(*bot, names::kProcessStart);
    if (std::isfinite(started) && started > 0) uptime = now - started;
    cpu_percent = CpuPercent(*bot, FamilySum(*bot, names::kProcessCpu));
  }

  return {
      {"timestamp", Iso8601(now)},
      {"uptime", static_cast<int64_t>(std::max(0.0, uptime))},
      {"messages",
       {{"total", CountOrNull(from_logs.total)},
        {"last_hour", CountOrNull(from_logs.last_hour)},
        {"last_24h", CountOrNull(from_logs.last_day)},
        {"avg_response_time", NumberOrNull(from_logs.avg_ms)}}},
      {"users",
       {{"total", CountOrNull(from_logs.users)},
        {"active_today", CountOrNull(from_logs.today)},
        {"active_this_week", CountOrNull(from_logs.week)}}},
      {"system",
       {{"memory_mb", NumberOrNull(memory_mb)},
        {"cpu_percent", NumberOrNull(cpu_percent)},
        {"database_connections", CountOrNull(db_connections)}}},
      {"units", SummaryUnits()},
  };
}

double SummaryBuilder::CpuPercent(const CollectorSnapshot& bot, double cpu) {
  std::lock_guard<std::mutex> lock(mu_);
  if (bot.spec.name != cpu_collector_) {  // another process became "the bot": start over
    cpu_collector_ = bot.spec.name;
    last_cpu_seconds_ = -1;
    last_cpu_at_ = 0;
    cpu_percent_ = -1;
  }
  if (!std::isfinite(cpu)) return std::nan("");
  // A new probe result: the CPU used between the last two probes. The
  // supervised child is read on every request, so take a reading at most
  // once a second: CPU time moves in 10 ms ticks.
  if (bot.last_check_unix >= last_cpu_at_ + kMinCpuWindowSeconds) {
    if (last_cpu_seconds_ >= 0 && cpu >= last_cpu_seconds_) {
      cpu_percent_ = Round1((cpu - last_cpu_seconds_) / (bot.last_check_unix - last_cpu_at_) * 100);
    }
    last_cpu_seconds_ = cpu;
    last_cpu_at_ = bot.last_check_unix;
  }
  return cpu_percent_ >= 0 ? cpu_percent_ : std::nan("");
}

nlohmann::json SummaryBuilder::History(double now, const MetricStore* store) {
  std::vector<double> minutes;
  if (store) minutes = store->History(names::kMessages, now);
  nlohmann::json counts = nlohmann::json::array();
  for (double v : minutes) counts.push_back(static_cast<int64_t>(std::llround(v)));
  return {{"end", static_cast<int64_t>(now / 60 + 1) * 60}, {"step_seconds", 60}, {"messages", counts}};
}

}  // namespace botwatch
