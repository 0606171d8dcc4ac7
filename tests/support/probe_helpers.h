#pragma once

// Builds one collector from a YAML snippet and reads samples from its result,
// for tests that drive a collector directly (without the daemon).

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "agent/config.h"
#include "collectors/collector.h"

namespace botwatch::testing {

// The loaded config owns the collector; keep it alive with the collector.
struct BuiltCollector {
  std::shared_ptr<const Config> config;
  Collector* collector = nullptr;
  ProbeResult Probe(std::chrono::milliseconds budget = std::chrono::seconds(5)) const {
    ProbeContext ctx{std::chrono::steady_clock::now() + budget};
    return collector->Collect(ctx);
  }
};

// `item` is one collectors[] entry in flow style, e.g. "{name: x, type: gemini, ...}".
// On a config error, returns a null collector and sets *error.
BuiltCollector BuildCollector(const std::string& item, std::string* error = nullptr);

// Runs `collector` once, its deadline `budget` from now.
ProbeResult Probe(Collector& collector, std::chrono::milliseconds budget = std::chrono::seconds(2));

// Value of the sample of `family` whose labels are exactly `labels` (any order).
std::optional<double> SampleOf(const ProbeResult& result, const std::string& family,
                               const std::vector<std::pair<std::string, std::string>>& labels = {});

// Every sample value, label and message of a result as text: for "no secret here" checks.
std::string Dump(const ProbeResult& result);

// Value of the first /metrics line starting with `series` (exact name and labels).
std::optional<double> ScrapeValue(const std::string& metrics, const std::string& series);

// The first substring of `secret` at least `piece` bytes long that `text`
// contains, "" if none: catches a secret cut in half as well as a whole one.
std::string PieceOfSecretIn(const std::string& text, const std::string& secret, size_t piece = 8);

}  // namespace botwatch::testing
