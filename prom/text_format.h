#pragma once

// A strict parser for the Prometheus text exposition format (version 0.0.4),
// used to validate what another program wrote (an exec check, a textfile, a
// scraped target) before it reaches /metrics. The writer is prom/text_writer.h.
// Anything the format does not allow is an error naming the line: a malformed
// name, label or value, an unknown escape, invalid UTF-8, a TYPE after the
// family's samples, a family split in two, a duplicate series, a histogram
// without its +Inf bucket. Pure: no I/O, no allocation beyond the result, so a
// fuzz target can drive it directly.

#include "prom/family.h"

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
// into one ClientMetric per label set, keeping the producer's spelling of le
// and quantile values where botwatch would write them otherwise
// (Family::Metric::point_spellings). Errors read "line N: ...".
Result<std::vector<Family>> ParseTextFormat(std::string_view text, const TextFormatLimits& limits = {});

// True if `s` is well-formed UTF-8 (no overlong forms, no surrogates).
bool IsValidUtf8(std::string_view s);

}  // namespace botwatch
