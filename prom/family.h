#pragma once

// botwatch's metric family: prometheus-cpp's data model plus the one thing a
// carried family needs that prometheus::ClientMetric has no field for, the
// producer's spelling of its le and quantile values. Every collector, the log
// pipeline, /metrics and remote_write pass families of this type.

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>
#include <prometheus/metric_type.h>

#include <string>
#include <utility>
#include <vector>

namespace botwatch {

struct Family {
  // One label set of the family and its value(s), as prometheus-cpp models it.
  struct Metric : prometheus::ClientMetric {
    Metric() = default;
    // A metric of prometheus-cpp's (a Registry's) is a metric without spellings.
    explicit Metric(prometheus::ClientMetric m) : prometheus::ClientMetric(std::move(m)) {}

    // How a producer spelled the le or quantile values ("1.6384e+06", "1.0"
    // where botwatch writes "1638400", "1"), in point order (for a histogram,
    // +Inf's last). Prometheus names a series by its label strings, so a
    // carried series keeps its spelling. Empty: botwatch spells them
    // (FormatPointValue). Only the text-format parser fills it.
    std::vector<std::string> point_spellings;
  };

  std::string name;
  std::string help;
  prometheus::MetricType type = prometheus::MetricType::Untyped;
  std::vector<Metric> metric;
};

// Each type by its name on a text-format `# TYPE` line, one list for the
// parser and the writer.
struct FamilyTypeName {
  prometheus::MetricType type;
  const char* name;
};
inline constexpr FamilyTypeName kFamilyTypeNames[] = {{prometheus::MetricType::Counter, "counter"},
                                                      {prometheus::MetricType::Gauge, "gauge"},
                                                      {prometheus::MetricType::Histogram, "histogram"},
                                                      {prometheus::MetricType::Summary, "summary"},
                                                      {prometheus::MetricType::Untyped, "untyped"}};

// Families of a prometheus::Registry (botwatch's few gauges of its own) as botwatch's.
std::vector<Family> FromPrometheus(std::vector<prometheus::MetricFamily> families);

}  // namespace botwatch
