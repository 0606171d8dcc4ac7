#pragma once

// The series of one metric, as the text format and remote write name them: a
// counter, gauge or untyped metric is one series; a histogram or summary is
// its _count, its _sum and one series per le or quantile point. Both writers
// (SerializeFamilies for /metrics, push's WriteRequest encoder) walk a metric
// with ForEachSeries, so a pushed series carries exactly the labels /metrics
// shows for it.

#include <prometheus/metric_family.h>

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace botwatch {

// How a producer spelled the le or quantile values of one histogram or summary
// metric ("1.6384e+06", "1.0" where botwatch writes "1638400", "1"). Prometheus
// names a series by its label strings, so a carried series keeps its spelling.
// prometheus::ClientMetric has no field for them: they ride inside the metric,
// after its labels, in a form only this type writes and reads.
class PointSpellings {
 public:
  // Gives `m` the spellings of its points, in ascending order (for a histogram,
  // +Inf's last).
  static void Attach(prometheus::ClientMetric& m, const std::vector<std::string>& spellings);

  // The labels of `m` that name its series: all but the attached spellings.
  static size_t LabelCount(const prometheus::ClientMetric& m);

  // The spellings attached to `m`, if it has `points` of them; otherwise none.
  PointSpellings(const prometheus::ClientMetric& m, size_t points);

  // Point i as the producer spelled it, or empty: write it as FormatPointValue does.
  std::string_view At(size_t i) const { return i < parts_.size() ? parts_[i] : std::string_view(); }

 private:
  std::vector<std::string_view> parts_;
};

// An le or quantile label of one series.
struct SeriesPoint {
  const char* name;  // "le" or "quantile"
  double value;
  std::string_view spelling;  // as the producer wrote it; empty: FormatPointValue(value)
};

// One series of a metric: the family's name plus `suffix`, the metric's own
// labels (the first PointSpellings::LabelCount of them), then `point` if any.
struct Series {
  const char* suffix;        // "", "_count", "_sum" or "_bucket"
  const SeriesPoint* point;  // null unless the series is one le or quantile
  double value;
};

// Calls `emit` for each series of `m`, a metric of a family of `type`, in the
// order /metrics writes them. A histogram whose buckets leave +Inf implicit
// gets its +Inf bucket, which the text format requires.
void ForEachSeries(prometheus::MetricType type, const prometheus::ClientMetric& m,
                   const std::function<void(const Series&)>& emit);

}  // namespace botwatch
