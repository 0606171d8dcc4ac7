#include "collectors/lib/carried_metrics.h"

#include <algorithm>

#include "collectors/lib/text_format.h"

namespace botwatch {
namespace {

bool HasLabel(const prometheus::ClientMetric& m, const std::string& name) {
  return std::any_of(m.label.begin(), m.label.end(), [&](const auto& l) { return l.name == name; });
}

// The first of exported_collector, exported_exported_collector, ... that the
// sample does not carry yet.
std::string ExportedName(const prometheus::ClientMetric& m) {
  std::string name = "exported_collector";
  while (HasLabel(m, name)) name = "exported_" + name;
  return name;
}

}  // namespace

Result<std::vector<prometheus::MetricFamily>> CarryTextFormat(std::string_view text,
                                                              const std::vector<std::string>& reserved_prefixes,
                                                              const std::string& default_help,
                                                              const TextFormatLimits& limits) {
  auto parsed = ParseTextFormat(text, limits);
  if (!parsed.ok()) return parsed.status();
  std::vector<prometheus::MetricFamily> families = std::move(parsed.value());
  for (auto& f : families) {
    bool reserved = f.name.rfind("botwatch_collector_", 0) == 0;
    for (const auto& prefix : reserved_prefixes) reserved = reserved || f.name.rfind(prefix, 0) == 0;
    if (reserved) return Status::Error("family " + f.name + " uses a name reserved for botwatch");
    for (auto& m : f.metric) {
      for (auto& l : m.label) {
        if (l.name == "collector") l.name = ExportedName(m);
      }
    }
    if (f.help.empty()) f.help = default_help;
  }
  return families;
}

}  // namespace botwatch
