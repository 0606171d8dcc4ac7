#include "prom/series.h"

#include <cmath>
#include <limits>

namespace botwatch {
namespace {

// Point i as the producer spelled it, or empty (write it as FormatPointValue
// does). Spellings that do not match the points one to one are ignored.
std::string_view SpellingOf(const Family::Metric& m, size_t points, size_t i) {
  return m.point_spellings.size() == points ? std::string_view(m.point_spellings[i]) : std::string_view();
}

void EmitSummary(const Family::Metric& m, const std::function<void(const Series&)>& emit) {
  const auto& quantiles = m.summary.quantile;
  emit({"_count", nullptr, static_cast<double>(m.summary.sample_count)});
  emit({"_sum", nullptr, m.summary.sample_sum});
  for (size_t i = 0; i < quantiles.size(); ++i) {
    SeriesPoint quantile{"quantile", quantiles[i].quantile, SpellingOf(m, quantiles.size(), i)};
    emit({"", &quantile, quantiles[i].value});
  }
}

void EmitHistogram(const Family::Metric& m, const std::function<void(const Series&)>& emit) {
  const auto& buckets = m.histogram.bucket;
  bool implicit_inf = buckets.empty() || !std::isinf(buckets.back().upper_bound);
  size_t points = buckets.size() + (implicit_inf ? 1 : 0);
  emit({"_count", nullptr, static_cast<double>(m.histogram.sample_count)});
  emit({"_sum", nullptr, m.histogram.sample_sum});
  for (size_t i = 0; i < buckets.size(); ++i) {
    SeriesPoint le{"le", buckets[i].upper_bound, SpellingOf(m, points, i)};
    emit({"_bucket", &le, static_cast<double>(buckets[i].cumulative_count)});
  }
  if (implicit_inf) {
    SeriesPoint inf{"le", std::numeric_limits<double>::infinity(), SpellingOf(m, points, buckets.size())};
    emit({"_bucket", &inf, static_cast<double>(m.histogram.sample_count)});
  }
}

}  // namespace

void ForEachSeries(prometheus::MetricType type, const Family::Metric& m,
                   const std::function<void(const Series&)>& emit) {
  switch (type) {
    case prometheus::MetricType::Counter:
      emit({"", nullptr, m.counter.value});
      break;
    case prometheus::MetricType::Gauge:
      emit({"", nullptr, m.gauge.value});
      break;
    case prometheus::MetricType::Untyped:
      emit({"", nullptr, m.untyped.value});
      break;
    case prometheus::MetricType::Summary:
      EmitSummary(m, emit);
      break;
    case prometheus::MetricType::Histogram:
      EmitHistogram(m, emit);
      break;
  }
}

}  // namespace botwatch
