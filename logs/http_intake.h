#pragma once

// The HTTP log source (`type: http`, lines POSTed to /api/v1/logs): turns a request
// body into lines for the source's LineSink, and keeps the source's request
// budget (a token bucket) and its answer counts. Knows nothing of HTTP
// servers: agent/log_intake.cc does the request and the answer.
//
// Bodies: NDJSON (one JSON object per line; blank lines are skipped), or one
// JSON array of objects, which is what winston's Http transport sends with
// `batch: true` (without it, each request is one object: one NDJSON line).

#include <nlohmann/json.hpp>

#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "logs/line_sink.h"
#include "prom/family.h"

namespace botwatch {

struct IntakeResult {
  size_t accepted = 0;  // JSON objects handed to the sink as lines
  size_t rejected = 0;  // lines (or array items) that are not a JSON object
  bool array = false;   // the body was a JSON array: positions are item numbers
  // The first rejected line (1-based line number in the body, counting blank
  // lines) or array item (1-based), and why. Never quotes the body.
  size_t first_error_position = 0;
  std::string first_error;
};

// Checks and delivers `body`. Good lines reach the sink even when others are
// bad; a bad line also goes to the sink (so it counts as a parse error of the
// source), except one longer than `max_line_bytes`, reported as TooLong().
IntakeResult IngestBody(std::string_view body, size_t max_line_bytes, LineSink& sink);

// A token bucket: `rate` tokens a second, at most `burst` stored; starts full.
// Time comes from the caller (seconds on a monotonic clock), so tests need no sleep.
class TokenBucket {
 public:
  TokenBucket(double rate, double burst) : rate_(rate), burst_(burst), tokens_(burst) {}
  // Takes one token. If none is left, takes nothing and returns the seconds
  // until one will be there.
  std::optional<double> Take(double now);

 private:
  double rate_, burst_, tokens_;
  std::optional<double> last_;
};

class HttpIntake {
 public:
  HttpIntake(std::string source, size_t max_body_bytes, size_t max_line_bytes, double rate, double burst);

  const std::string& source() const { return source_; }
  size_t max_body_bytes() const { return max_body_bytes_; }
  size_t max_line_bytes() const { return max_line_bytes_; }

  // Thread-safe. See TokenBucket::Take; `now` defaults to the steady clock.
  std::optional<double> TakeToken(std::optional<double> now = std::nullopt);
  // Counts an answer to a request for this source.
  void CountAnswer(int status);

  // Answer counts for the state file and reloads.
  nlohmann::json Save() const;
  void Restore(const nlohmann::json& state);

  // botwatch_log_intake_requests_total{source,code} over `intakes`.
  static Family RequestsFamily(const std::vector<const HttpIntake*>& intakes);

 private:
  const std::string source_;
  const size_t max_body_bytes_;
  const size_t max_line_bytes_;
  mutable std::mutex mu_;
  TokenBucket bucket_;
  std::map<int, double> answers_;  // status code -> count
};

}  // namespace botwatch
