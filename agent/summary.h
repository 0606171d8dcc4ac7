#pragma once

// /api/v1/summary and /api/v1/history: the numbers bot admin UIs show, read
// from the log pipeline's metric store and the collectors' snapshots (no
// bookkeeping of their own). The metric names (agent/summary_metrics.h) are
// those of the shipped preset (config/presets/messenger-bot.yaml):
//   messages.total              bot_messages_total{direction="inbound"}
//   messages.last_hour / 24h    its per-minute history by event time
//   messages.avg_response_time  bot_response_time_seconds sum / count, in ms
//   users.total                 bot_active_users{window="365d"} (distinct users in a year)
//   users.active_today / week   bot_active_users{window="24h"} / {window="7d"}
//   system.memory_mb, cpu_percent   the first `process` collector that is up (the bot;
//                                   in supervise mode the child comes first)
//   system.database_connections     botwatch_postgres_connections of any postgres collector
// A number the config cannot provide is null.

#include <nlohmann/json.hpp>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/snapshot_cache.h"
#include "logs/metric_store.h"

namespace botwatch {

// True for a process collector whose process is this botwatch (e.g. the `self`
// collector of config/botwatch.yaml). "The bot" is the supervised child, else
// the first other process collector that is up: never botwatch itself.
bool WatchesBotwatch(const CollectorSnapshot& snapshot);

class SummaryBuilder {
 public:
  // `store` may be null (no log sources configured).
  nlohmann::json Summary(double now, double botwatch_start, const MetricStore* store,
                         const std::vector<std::shared_ptr<const CollectorSnapshot>>& snapshots);
  // {"end": now, "step_seconds": 60, "messages": [1440 per-minute counts, oldest first]}
  static nlohmann::json History(double now, const MetricStore* store);

 private:
  // The bot's CPU use between its last two probes, from its CPU seconds `cpu`;
  // NaN until there are two readings.
  double CpuPercent(const CollectorSnapshot& bot, double cpu);

  // CPU percent needs two readings of the bot's CPU seconds: the last one seen.
  static constexpr double kMinCpuWindowSeconds = 1;
  std::mutex mu_;
  std::string cpu_collector_;
  double last_cpu_seconds_ = -1;
  double last_cpu_at_ = 0;
  double cpu_percent_ = -1;
};

}  // namespace botwatch
