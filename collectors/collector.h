#pragma once

// The contract every collector type implements. A collector is built from its
// YAML node (validating it there) and then probes its target on the scheduler's
// worker threads. It never throws out of Collect() and never runs past the
// deadline it is given; the scheduler enforces the deadline anyway.

#include "prom/family.h"

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/duration.h"
// Every plug-in builds its families with it.
#include "prom/family_builder.h"

namespace botwatch {

using SteadyTime = std::chrono::steady_clock::time_point;

// What every instance has, whatever its type.
struct CollectorSpec {
  std::string name;
  std::string type;
  Duration interval;
  Duration timeout;
};

struct ProbeContext {
  SteadyTime deadline;
  // Time left before the deadline, never negative.
  Duration Remaining() const;
};

// Short, bounded vocabulary for why a probe failed; used as the `reason` label of
// botwatch_collector_errors_total, so it must never carry free text.
namespace reason {
inline constexpr const char* kOk = "ok";
inline constexpr const char* kTimeout = "timeout";
inline constexpr const char* kConnectionRefused = "connection_refused";
inline constexpr const char* kDns = "dns";
inline constexpr const char* kTls = "tls";
inline constexpr const char* kHttpStatus = "http_status";
inline constexpr const char* kBodyMismatch = "body_mismatch";
inline constexpr const char* kNotFound = "not_found";
inline constexpr const char* kExited = "exited";  // the supervised child is not running
inline constexpr const char* kFrozen = "frozen";  // stopped (SIGSTOP, a debugger) or stuck in D state
inline constexpr const char* kProtocol = "protocol";
inline constexpr const char* kIo = "io";
inline constexpr const char* kInternal = "internal";
inline constexpr const char* kAuth = "auth";  // the peer refused botwatch's credentials
// exec, textfile, scrape: what the producer wrote is not valid Prometheus text
inline constexpr const char* kInvalidOutput = "invalid_output";
}  // namespace reason

struct ProbeResult {
  bool up = false;
  std::string reason = reason::kOk;
  // One line for humans (status API, logs). Must never contain a secret.
  std::string message;
  // Type-specific families. The framework adds the `collector` label to each sample.
  std::vector<Family> families;

  static ProbeResult Up() {
    ProbeResult r;
    r.up = true;
    return r;
  }
  static ProbeResult Down(std::string why, std::string message) {
    ProbeResult r;
    r.up = false;
    r.reason = std::move(why);
    r.message = std::move(message);
    return r;
  }
};

class Collector {
 public:
  virtual ~Collector() = default;
  Collector(const Collector&) = delete;
  Collector& operator=(const Collector&) = delete;

  // Performs one probe. Called from one thread at a time per instance.
  virtual ProbeResult Collect(const ProbeContext& ctx) = 0;

 protected:
  Collector() = default;
};

}  // namespace botwatch
