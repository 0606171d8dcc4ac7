#pragma once

// `type: http`: one HTTP(S) request per probe (collectors/lib/http_request),
// checked against an expected status list and an optional body regex. TLS
// verification is on unless the config explicitly turns it off.

#include <map>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "base/redact.h"
#include "base/secret.h"
#include "collectors/collector.h"
#include "collectors/lib/http_request.h"

namespace botwatch {

class ConfigMap;

struct HttpProbeConfig {
  std::string url;  // may carry a token in its query string: never logged
  std::string method = "GET";
  std::vector<std::pair<std::string, Secret>> headers;  // values may be credentials
  std::optional<Secret> body;
  std::vector<int> valid_status_codes;  // empty: any 2xx
  std::optional<std::string> body_regex_source;
  FetchOptions fetch;
};

class HttpCollector : public Collector {
 public:
  static std::unique_ptr<Collector> Create(const CollectorSpec& spec, ConfigMap& config);

  explicit HttpCollector(HttpProbeConfig config);
  ProbeResult Collect(const ProbeContext& ctx) override;

  // Turns what the request returned into up/down, reason and families: kept
  // apart from the request so the classification is testable without a network.
  ProbeResult Evaluate(const ProbeResponse& ex) const;

 private:
  HttpProbeConfig config_;
  std::optional<std::regex> body_regex_;
  // libcurl's errors quote what the peer chose (a redirect's host name): the
  // headers, body and URL password are redacted from them in every form.
  Redactor redactor_;
};

}  // namespace botwatch
