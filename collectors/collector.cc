#include "collectors/collector.h"

#include "collectors/snapshot.h"

namespace botwatch {

Duration ProbeContext::Remaining() const {
  auto left = std::chrono::duration_cast<Duration>(deadline - std::chrono::steady_clock::now());
  return left.count() > 0 ? left : Duration::zero();
}

void AddCollectorLabel(std::vector<Family>& families, const std::string& name) {
  for (auto& family : families) {
    for (auto& metric : family.metric) metric.label.insert(metric.label.begin(), {"collector", name});
  }
}

}  // namespace botwatch
