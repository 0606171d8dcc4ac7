#include "tests/support/probe_helpers.h"

#include <algorithm>

namespace botwatch::testing {

BuiltCollector BuildCollector(const std::string& item, std::string* error) {
  ConfigSource src;
  src.file = "test.yaml";
  auto loaded = LoadConfigText("collectors:\n  - " + item + "\n", src);
  BuiltCollector out;
  if (!loaded.ok()) {
    if (error) *error = loaded.status().message();
    return out;
  }
  out.config = loaded.value();
  out.collector = out.config->collectors.at(0).collector.get();
  return out;
}

ProbeResult Probe(Collector& collector, std::chrono::milliseconds budget) {
  return collector.Collect(ProbeContext{std::chrono::steady_clock::now() + budget});
}

std::optional<double> SampleOf(const ProbeResult& result, const std::string& family,
                               const std::vector<std::pair<std::string, std::string>>& labels) {
  for (const auto& f : result.families) {
    if (f.name != family) continue;
    for (const auto& m : f.metric) {
      if (m.label.size() != labels.size()) continue;
      bool all = std::all_of(labels.begin(), labels.end(), [&](const auto& want) {
        return std::any_of(m.label.begin(), m.label.end(),
                           [&](const auto& l) { return l.name == want.first && l.value == want.second; });
      });
      if (!all) continue;
      switch (f.type) {
        case prometheus::MetricType::Counter:
          return m.counter.value;
        case prometheus::MetricType::Untyped:
          return m.untyped.value;
        default:
          return m.gauge.value;
      }
    }
  }
  return std::nullopt;
}

std::string Dump(const ProbeResult& result) {
  std::string out = result.reason + "\n" + result.message + "\n";
  for (const auto& f : result.families) {
    out += f.name + " " + f.help + "\n";
    for (const auto& m : f.metric) {
      for (const auto& l : m.label) out += l.name + "=" + l.value + ",";
      out += "\n";
    }
  }
  return out;
}

std::optional<double> ScrapeValue(const std::string& metrics, const std::string& series) {
  size_t pos = 0;
  while ((pos = metrics.find(series + " ", pos)) != std::string::npos) {
    if (pos == 0 || metrics[pos - 1] == '\n') {
      size_t end = metrics.find('\n', pos);
      return std::stod(metrics.substr(pos + series.size() + 1, end - pos - series.size() - 1));
    }
    ++pos;
  }
  return std::nullopt;
}

std::string PieceOfSecretIn(const std::string& text, const std::string& secret, size_t piece) {
  for (size_t i = 0; i + piece <= secret.size(); ++i) {
    std::string part = secret.substr(i, piece);
    if (text.find(part) != std::string::npos) return part;
  }
  return "";
}

}  // namespace botwatch::testing
