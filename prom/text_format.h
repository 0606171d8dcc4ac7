#pragma once

// A strict parser for the Prometheus text exposition format (version 0.0.4),
// used to validate what an exec check prints before it reaches /metrics.
// Anything the format does not allow is an error naming the line: a malformed
// name, label or value, an unknown escape, invalid UTF-8, a TYPE after the
// family's samples, a family split in two, a duplicate series, a histogram
// without its +Inf bucket. Pure: no I/O, no allocation beyond the result, so a
// fuzz target can drive it directly.

#include <prometheus/metric_family.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace botwatch {

struct TextFormatLimits {
  size_t max_samples = 10000;  // sample lines, across all families
  size_t max_line_bytes = 64 * 1024;
  // Values that must never appear in an error (an exec check's env secrets):
  // each is replaced by <secret> before a token is quoted, escaped or cut, so
  // no part of one survives a cut that straddles it.
  std::vector<std::string> secrets;
};

// The families in input order; histogram and summary samples are assembled
// into one ClientMetric per label set. Errors read "line N: ...".
Result<std::vector<prometheus::MetricFamily>> ParseTextFormat(std::string_view text,
                                                              const TextFormatLimits& limits = {});

// The text botwatch writes for every value (samples, le, quantile): the
// shortest form that reads back as the same double, "+Inf", "-Inf", "NaN".
void AppendValue(std::string& out, double v);
std::string FormatPointValue(double v);

// Another program may spell an le or quantile value differently ("1.6384e+06",
// "1.0"); since Prometheus names a series by its label strings, the spelling is
// kept. A histogram or summary sample whose spellings differ from
// FormatPointValue carries them as its last label: this name (empty, which no
// real label can have) and the spellings of its points in ascending order
// (for a histogram, +Inf's last), joined by kPointSpellingSeparator. The
// /metrics writer (agent/exposition.cc) uses them and never prints the label.
inline constexpr const char* kPointSpellingsLabel = "";
inline constexpr char kPointSpellingSeparator = '\x1f';

// True if `s` is well-formed UTF-8 (no overlong forms, no surrogates).
bool IsValidUtf8(std::string_view s);

bool IsValidMetricName(std::string_view name);
bool IsValidLabelName(std::string_view name);

}  // namespace botwatch
