#pragma once

// `type: scrape`: carries another program's /metrics (the bot's prom-client
// registry, an exporter beside it) where nothing else can scrape it, e.g. on a
// platform where botwatch pushes. One GET per probe through the shared libcurl
// driver (timeout, TLS, basic auth or a bearer token, redirects that never carry
// credentials to another origin); the answer, Prometheus text or OpenMetrics, is
// carried exactly as exec and textfile carry theirs (prom/carried_metrics.h).

#include <optional>
#include <string>
#include <vector>

#include "base/secret.h"
#include "collectors/collector.h"
#include "collectors/lib/http_request.h"

namespace botwatch {

class ConfigMap;

struct ScrapeConfig {
  std::string url;
  std::vector<Secret> headers;  // "Authorization: ..." built from basic_auth or authorization
  std::vector<Secret> redact;   // credential values, never quoted in an error
  FetchOptions fetch{.tls_verify = true, .ca_file = "", .follow_redirects = true, .max_body_bytes = 8 << 20};
  size_t max_series = 10000;
};

class ScrapeCollector : public Collector {
 public:
  static std::unique_ptr<Collector> Create(const CollectorSpec& spec, ConfigMap& config);

  explicit ScrapeCollector(ScrapeConfig config);
  ProbeResult Collect(const ProbeContext& ctx) override;

  // Turns one response into up/down and families (pure, tested on its own).
  ProbeResult Evaluate(const ProbeResponse& response) const;

 private:
  ScrapeConfig config_;
};

}  // namespace botwatch
