#include "collectors/scrape.h"

#include "base/config_node.h"
#include "collectors/lib/websocket_client.h"
#include "collectors/registry.h"
#include "prom/carried_metrics.h"

namespace botwatch {

BOTWATCH_REGISTER_COLLECTOR("scrape", ScrapeCollector::Create);

namespace {

constexpr const char* kOutputTooLarge = "output_too_large";
constexpr const char* kTooManySeries = "too_many_series";

// The classic text first (Prometheus itself prefers OpenMetrics): a target that
// negotiates then sends what botwatch's /metrics serves, with nothing to convert.
constexpr const char* kAccept =
    "Accept: text/plain;version=0.0.4;q=1,application/openmetrics-text;version=1.0.0;q=0.5,*/*;q=0.1";

// The labels a scraper adds to every series. A carried series that has its own
// would keep it when pushed (a series' own label wins over external_labels),
// and Prometheus, scraping with honor_labels: false, keeps the target's: so
// theirs become exported_job / exported_instance either way.
void RenameTargetLabels(std::vector<Family>& families) {
  for (auto& f : families) {
    for (auto& m : f.metric) {
      for (const char* target : {"job", "instance"}) {
        for (auto& l : m.label) {
          if (l.name != target) continue;
          std::string name = "exported_" + l.name;
          auto taken = [&](const std::string& n) {
            for (const auto& other : m.label) {
              if (other.name == n) return true;
            }
            return false;
          };
          while (taken(name)) name = "exported_" + name;
          l.name = name;
        }
      }
    }
  }
}

}  // namespace

std::unique_ptr<Collector> ScrapeCollector::Create(const CollectorSpec&, ConfigMap& config) {
  ScrapeConfig c;
  c.url = ConfigUrl(config);
  ReadAuthConfig(config, &c.headers, &c.redact);
  c.fetch = ReadFetchOptions(config, 8 << 20, 1024, 256 << 20);
  c.max_series = static_cast<size_t>(config.Int("max_series", 10000, 1, 1000000));
  return std::make_unique<ScrapeCollector>(std::move(c));
}

ScrapeCollector::ScrapeCollector(ScrapeConfig config) : config_(std::move(config)) {}

ProbeResult ScrapeCollector::Evaluate(const ProbeResponse& ex) const {
  FamilyBuilder fb;
  auto with = [&](ProbeResult r) {
    r.families = fb.Take();
    return r;
  };
  std::vector<const Secret*> secrets;
  for (const Secret& s : config_.redact) secrets.push_back(&s);
  if (!ex.ok()) return with(ProbeResult::Down(ReasonForCurlCode(ex.curl_code), QuotePeer(ex.curl_error, secrets)));
  fb.Gauge("botwatch_scrape_status_code", "HTTP status code of the last scrape.", static_cast<double>(ex.status));
  fb.Gauge("botwatch_scrape_response_bytes", "Bytes of the last scrape's response body (up to max_body_bytes).",
           static_cast<double>(ex.body.size()));
  if (ex.status < 200 || ex.status >= 300) {
    return with(ProbeResult::Down(reason::kHttpStatus, "unexpected HTTP status " + std::to_string(ex.status)));
  }
  if (ex.body_truncated) {
    return with(ProbeResult::Down(kOutputTooLarge, "the response is larger than max_body_bytes (" +
                                                       std::to_string(config_.fetch.max_body_bytes) + ")"));
  }
  TextFormatLimits limits;
  limits.max_samples = config_.max_series;
  for (const Secret& s : config_.redact) limits.secrets.push_back(s.reveal());
  // Every botwatch_ name is botwatch's own: carrying another botwatch (or this
  // one, by a wrong port) would corrupt its families.
  auto carried = CarryTextFormat(ex.body, {"botwatch_"}, "Scraped from " + UrlOrigin(config_.url) + ".", limits);
  if (!carried.ok()) {
    const std::string& why = carried.status().message();
    if (why.find("more than " + std::to_string(config_.max_series) + " samples") != std::string::npos) {
      return with(ProbeResult::Down(kTooManySeries,
                                    "the endpoint exposes more than max_series (" + std::to_string(config_.max_series) +
                                        ") series; none were kept (raise max_series, or expose fewer)"));
    }
    return with(ProbeResult::Down(reason::kInvalidOutput, "not valid Prometheus text or OpenMetrics: " + why));
  }
  std::vector<Family> families = std::move(carried.value());
  RenameTargetLabels(families);
  // Counted as max_series counts them: one per sample line (each bucket, _sum,
  // _count). The parser keeps a histogram's +Inf bucket as its count.
  size_t series = 0;
  for (const auto& f : families) {
    for (const auto& m : f.metric) {
      if (f.type == prometheus::MetricType::Histogram) {
        series += m.histogram.bucket.size() + 3;
      } else if (f.type == prometheus::MetricType::Summary) {
        series += m.summary.quantile.size() + 2;
      } else {
        ++series;
      }
    }
  }
  fb.Gauge("botwatch_scrape_series", "Series carried from the last scrape (each bucket, _sum and _count is one).",
           static_cast<double>(series));
  ProbeResult r = with(ProbeResult::Up());
  for (auto& f : families) r.families.push_back(std::move(f));
  return r;
}

ProbeResult ScrapeCollector::Collect(const ProbeContext& ctx) {
  ProbeRequest req;
  req.url = config_.url;
  req.headers = config_.headers;
  req.headers.emplace_back(kAccept);
  config_.fetch.ApplyTo(req);
  return Evaluate(PerformHttp(req, ctx.Remaining()));
}

}  // namespace botwatch
