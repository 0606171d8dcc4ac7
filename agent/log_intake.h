#pragma once

// POST /api/v1/logs: log lines from a bot in another container, for a log
// source of `type: http` (logs/http_intake.h parses the body). Authentication
// happens before, in the web server, like for every other endpoint.

#include <functional>

#include "agent/web_server.h"

namespace botwatch {
namespace logs {
class LogPipeline;
}

// `?source=NAME` picks the source; it may be left out when exactly one http
// source is configured. Answers (JSON bodies):
//   200 {"accepted": n, "rejected": 0}
//   400 {"accepted": n, "rejected": m, "first_error": {"line": k, "error": "..."}}
//       (good lines are ingested all the same; "item" instead of "line" for a JSON array body)
//   404 no such http source, 405 not POST, 413 body over max_body_bytes,
//   415 compressed body, 429 over the source's rate (with Retry-After).
// `with_logs` runs its argument with the current pipeline (nullptr if none)
// while no reload can swap it (Agent::WithLogs); the body is read outside it,
// so a slow client never holds up a reload.
using WithLogsFn = std::function<void(const std::function<void(logs::LogPipeline*)>&)>;
HttpResponse ServeLogIntake(const HttpRequest& request, const WithLogsFn& with_logs);

}  // namespace botwatch
