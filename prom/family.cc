#include "prom/family.h"

#include <utility>

namespace botwatch {

std::vector<Family> FromPrometheus(std::vector<prometheus::MetricFamily> families) {
  std::vector<Family> out;
  out.reserve(families.size());
  for (auto& f : families) {
    Family& g = out.emplace_back();
    g.name = std::move(f.name);
    g.help = std::move(f.help);
    g.type = f.type;
    g.metric.reserve(f.metric.size());
    for (auto& m : f.metric) g.metric.emplace_back(std::move(m));
  }
  return out;
}

}  // namespace botwatch
