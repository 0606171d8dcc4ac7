#pragma once

// The series of one metric, as the text format and remote write name them: a
// counter, gauge or untyped metric is one series; a histogram or summary is
// its _count, its _sum and one series per le or quantile point. Both writers
// (SerializeFamilies for /metrics, push's WriteRequest encoder) walk a metric
// with ForEachSeries, so a pushed series carries exactly the labels /metrics
// shows for it.

#include "prom/family.h"

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace botwatch {

// An le or quantile label of one series.
struct SeriesPoint {
  const char* name;  // "le" or "quantile"
  double value;
  std::string_view spelling;  // as the producer wrote it; empty: FormatPointValue(value)
};

// One series of a metric: the family's name plus `suffix`, the metric's own
// labels, then `point` if any.
struct Series {
  const char* suffix;        // "", "_count", "_sum" or "_bucket"
  const SeriesPoint* point;  // null unless the series is one le or quantile
  double value;
};

// Calls `emit` for each series of `m`, a metric of a family of `type`, in the
// order /metrics writes them. A histogram whose buckets leave +Inf implicit
// gets its +Inf bucket, which the text format requires.
void ForEachSeries(prometheus::MetricType type, const Family::Metric& m,
                   const std::function<void(const Series&)>& emit);

}  // namespace botwatch
