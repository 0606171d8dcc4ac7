#include "prom/family.h"

#include <iterator>

namespace botwatch {

std::vector<Family> FromPrometheus(std::vector<prometheus::MetricFamily> families) {
  std::vector<Family> out;
  out.reserve(families.size());
  for (auto& f : families) {
    Family& g = out.emplace_back();
    g.name = std::move(f.name);
    g.help = std::move(f.help);
    g.type = f.type;
    g.metric.assign(std::make_move_iterator(f.metric.begin()), std::make_move_iterator(f.metric.end()));
  }
  return out;
}

}  // namespace botwatch
