#pragma once

// Wall-clock time as the outside world reads it: seconds since the epoch for
// metrics, ISO-8601 in UTC for JSON and logs. Durations and deadlines use the
// steady clock instead; these are only for timestamps that leave the process.

#include <string>

namespace botwatch {

// Seconds since the epoch, with sub-second precision.
double UnixNow();

// "2026-12-04T15:26:15Z"; "" for 0 or less, the "never" of the status API.
std::string Iso8601(double unix_seconds);

// "2026-12-04T15:26:15.123Z"; for log lines and feed events.
std::string Iso8601Millis(double unix_seconds);

}  // namespace botwatch
