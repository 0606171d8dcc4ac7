#pragma once

// POST /api/v1/logs: log lines from a bot in another container, for a log
// source of `type: http` (logs/http_intake.h parses the body). Authentication
// happens before, in the web server, like for every other endpoint.

#include "logs/current_pipeline.h"
#include "web/web_server.h"

namespace botwatch {

// `?source=NAME` picks the source; it may be left out when exactly one http
// source is configured. Answers (JSON bodies):
//   200 {"accepted": n, "rejected": 0}
//   400 {"accepted": n, "rejected": m, "first_error": {"line": k, "error": "..."}}
//       (good lines are ingested all the same; "item" instead of "line" for a JSON array body)
//   404 no such http source, 405 not POST, 413 body over max_body_bytes,
//   415 compressed body, 429 over the source's rate (with Retry-After).
// The body is read before `current` is called, so a slow client never holds
// up a reload.
HttpResponse ServeLogIntake(const HttpRequest& request, const CurrentPipeline& current);

}  // namespace botwatch
