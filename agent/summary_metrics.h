#pragma once

// The metric names /api/v1/summary, /api/v1/history and the status page read.
// The log-derived ones are not botwatch's own: they are defined by the rules
// of the shipped preset (config/presets/messenger-bot.yaml), so a rename there
// silently turns the summary's numbers into null. tests/unit/agent/summary_metrics_test.cc
// loads the preset and checks each name below against it.

#include <string>
#include <vector>

namespace botwatch::summary_metrics {

// ---- from the log rules (the preset) ----
// counter, label direction: messages handled; the summary counts {direction="inbound"}
// (messages.total) and its per-minute history (last hour / 24 h, the page's chart).
inline constexpr const char* kMessages = "bot_messages_total";
inline constexpr const char* kMessagesDirectionLabel = "direction";
inline const std::vector<std::string> kInboundLabels = {"inbound"};
// histogram, seconds: messages.avg_response_time is its sum / count, in ms.
inline constexpr const char* kResponseTime = "bot_response_time_seconds";
// distinct (HyperLogLog) over these windows: users.total, active_today, active_this_week.
inline constexpr const char* kActiveUsers = "bot_active_users";
inline constexpr const char* kUsersTotalWindow = "365d";
inline constexpr const char* kUsersTodayWindow = "24h";
inline constexpr const char* kUsersWeekWindow = "7d";

// ---- from botwatch's own collectors (their names are fixed in code) ----
// process collector: system.memory_mb, uptime, cpu_percent.
inline constexpr const char* kProcessMemory = "botwatch_process_resident_memory_bytes";
inline constexpr const char* kProcessStart = "botwatch_process_start_time_seconds";
inline constexpr const char* kProcessCpu = "botwatch_process_cpu_seconds_total";
// 1 on a process collector that watches botwatch itself (collectors/process.cc).
inline constexpr const char* kProcessIsBotwatch = "botwatch_process_is_botwatch";
// postgres collector: system.database_connections.
inline constexpr const char* kPostgresConnections = "botwatch_postgres_connections";

}  // namespace botwatch::summary_metrics
