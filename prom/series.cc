#include "prom/series.h"

#include <cmath>
#include <limits>

namespace botwatch {
namespace {

// The spellings ride as the metric's last label under a name no real label can
// have (empty), their texts joined by a byte no number's text holds.
constexpr std::string_view kSpellingsLabel = "";
constexpr char kSpellingSeparator = '\x1f';

bool HasSpellings(const prometheus::ClientMetric& m) {
  return !m.label.empty() && m.label.back().name == kSpellingsLabel;
}

void EmitSummary(const prometheus::ClientMetric& m, const std::function<void(const Series&)>& emit) {
  const auto& quantiles = m.summary.quantile;
  PointSpellings spelled(m, quantiles.size());
  emit({"_count", nullptr, static_cast<double>(m.summary.sample_count)});
  emit({"_sum", nullptr, m.summary.sample_sum});
  for (size_t i = 0; i < quantiles.size(); ++i) {
    SeriesPoint quantile{"quantile", quantiles[i].quantile, spelled.At(i)};
    emit({"", &quantile, quantiles[i].value});
  }
}

void EmitHistogram(const prometheus::ClientMetric& m, const std::function<void(const Series&)>& emit) {
  const auto& buckets = m.histogram.bucket;
  bool implicit_inf = buckets.empty() || !std::isinf(buckets.back().upper_bound);
  PointSpellings spelled(m, buckets.size() + (implicit_inf ? 1 : 0));
  emit({"_count", nullptr, static_cast<double>(m.histogram.sample_count)});
  emit({"_sum", nullptr, m.histogram.sample_sum});
  for (size_t i = 0; i < buckets.size(); ++i) {
    SeriesPoint le{"le", buckets[i].upper_bound, spelled.At(i)};
    emit({"_bucket", &le, static_cast<double>(buckets[i].cumulative_count)});
  }
  if (implicit_inf) {
    SeriesPoint inf{"le", std::numeric_limits<double>::infinity(), spelled.At(buckets.size())};
    emit({"_bucket", &inf, static_cast<double>(m.histogram.sample_count)});
  }
}

}  // namespace

void PointSpellings::Attach(prometheus::ClientMetric& m, const std::vector<std::string>& spellings) {
  std::string joined;
  for (const std::string& s : spellings) {
    if (!joined.empty()) joined += kSpellingSeparator;
    joined += s;
  }
  m.label.push_back({std::string(kSpellingsLabel), std::move(joined)});
}

size_t PointSpellings::LabelCount(const prometheus::ClientMetric& m) {
  return m.label.size() - (HasSpellings(m) ? 1 : 0);
}

PointSpellings::PointSpellings(const prometheus::ClientMetric& m, size_t points) {
  if (!HasSpellings(m)) return;
  std::string_view all = m.label.back().value;
  std::vector<std::string_view> parts;
  while (true) {
    size_t cut = all.find(kSpellingSeparator);
    parts.push_back(all.substr(0, cut));
    if (cut == std::string_view::npos) break;
    all.remove_prefix(cut + 1);
  }
  if (parts.size() == points) parts_ = std::move(parts);
}

void ForEachSeries(prometheus::MetricType type, const prometheus::ClientMetric& m,
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
