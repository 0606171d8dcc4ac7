#pragma once

// What the framework keeps of a collector between probes: its latest result
// plus the history a single result cannot carry (last success, last error,
// errors by reason). Built by the agent's snapshot cache for scheduled
// collectors and by supervise mode for the child it runs.

#include "prom/family.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "collectors/collector.h"

namespace botwatch {

struct CollectorSnapshot {
  CollectorSpec spec;
  bool has_run = false;
  bool up = false;
  std::string reason;
  std::string message;
  double duration_seconds = 0;
  double last_check_unix = 0;    // 0: never
  double last_success_unix = 0;  // 0: never
  // The most recent failure, kept after recovery: what broke, and when.
  std::string last_error;
  double last_error_unix = 0;  // 0: never
  // Cumulative across probes (and across reloads of an unchanged collector).
  std::map<std::string, uint64_t> errors_by_reason;
  // Type-specific families, `collector` label already added.
  std::vector<Family> families;
};

struct ProbeOutcome {
  ProbeResult result;
  double duration_seconds = 0;
  double finished_unix = 0;
};

// Every sample of a collector's families carries its name as the first label,
// `collector`, so one family can hold the samples of several instances.
void AddCollectorLabel(std::vector<Family>& families, const std::string& name);

}  // namespace botwatch
