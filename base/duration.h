#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "base/status.h"

namespace botwatch {

using Duration = std::chrono::milliseconds;

// Parses Prometheus-style durations: "15s", "5m", "1h30m", "250ms", "7d", "1w".
// Units must be in decreasing order and appear at most once; "0" alone is allowed.
Result<Duration> ParseDuration(std::string_view text);

// Inverse of ParseDuration, shortest form: 90000ms -> "1m30s".
std::string FormatDuration(Duration d);

inline double ToSeconds(Duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace botwatch
