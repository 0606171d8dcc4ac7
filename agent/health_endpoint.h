#pragma once

// /-/healthy: "botwatch serves" by itself; with ?require=NAME[,NAME...] (or
// the path form /-/healthy/NAME[,NAME...]) also "and these collectors are up", so a platform health check (App
// Platform, Docker HEALTHCHECK, Kubernetes liveness) restarts a hung bot, not only a dead botwatch.

#include <memory>
#include <vector>

#include "collectors/snapshot.h"
#include "web/web_server.h"

namespace botwatch {

// Bounds on what an unauthenticated caller may ask for (the endpoint stays
// open without credentials, as health checkers carry none).
inline constexpr size_t kHealthyMaxQueryBytes = 1024;
inline constexpr size_t kHealthyMaxRequired = 32;

// 200 "Healthy"; 503 naming each required collector that is down (or has not
// probed yet) and its reason code, one per line (never a message: no
// credentials are needed here); 400 for an unknown name (listing the
// known ones), an unknown parameter or a query past the bounds.
HttpResponse ServeHealthy(const HttpRequest& req, const std::vector<std::shared_ptr<const CollectorSnapshot>>& all);

}  // namespace botwatch
