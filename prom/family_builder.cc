#include "prom/family_builder.h"

namespace botwatch {

Family& FamilyBuilder::FamilyNamed(const std::string& name, const std::string& help, prometheus::MetricType type) {
  for (auto& f : families_) {
    if (f.name == name) return f;
  }
  families_.push_back(Family{name, help, type, {}});
  return families_.back();
}

namespace {
std::vector<Family::Metric::Label> ToLabels(const FamilyBuilder::Labels& labels) {
  std::vector<Family::Metric::Label> out;
  out.reserve(labels.size());
  for (const auto& [k, v] : labels) out.push_back({k, v});
  return out;
}

void AddSample(Family& family, const FamilyBuilder::Labels& labels, double value) {
  Family::Metric m;
  m.label = ToLabels(labels);
  (family.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value) = value;
  family.metric.push_back(std::move(m));
}
}  // namespace

void FamilyBuilder::Gauge(const std::string& name, const std::string& help, double value, const Labels& labels) {
  AddSample(FamilyNamed(name, help, prometheus::MetricType::Gauge), labels, value);
}

void FamilyBuilder::Counter(const std::string& name, const std::string& help, double value, const Labels& labels) {
  AddSample(FamilyNamed(name, help, prometheus::MetricType::Counter), labels, value);
}

}  // namespace botwatch
