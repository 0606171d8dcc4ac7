#pragma once

// `type: http`: one HTTP(S) request per probe (libcurl), checked against an
// expected status list and an optional body regex. TLS verification is on
// unless the config explicitly turns it off.

#include <map>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "base/secret.h"
#include "collectors/collector.h"

namespace botwatch {

class ConfigMap;

struct HttpProbeConfig {
  std::string url;  // may carry a token in its query string: never logged
  std::string method = "GET";
  std::vector<std::pair<std::string, Secret>> headers;  // values may be credentials
  std::optional<Secret> body;
  std::vector<int> valid_status_codes;  // empty: any 2xx
  std::optional<std::string> body_regex_source;
  bool tls_verify = true;
  std::string ca_file;
  bool follow_redirects = true;
  size_t max_body_bytes = 1 << 20;
};

// What one request returned, before interpretation: kept separate so the
// classification is testable without a network.
struct HttpExchange {
  int curl_code = 0;  // CURLcode
  std::string curl_error;
  long status = 0;
  std::string body;
  bool body_truncated = false;
  double dns_seconds = 0, connect_seconds = 0, tls_seconds = 0, first_byte_seconds = 0, total_seconds = 0;
};

class HttpCollector : public Collector {
 public:
  static std::unique_ptr<Collector> Create(const CollectorSpec& spec, ConfigMap& config);

  explicit HttpCollector(HttpProbeConfig config);
  ProbeResult Collect(const ProbeContext& ctx) override;

  // Turns an exchange into up/down, reason and families.
  ProbeResult Evaluate(const HttpExchange& ex) const;

 private:
  HttpExchange Perform(Duration timeout) const;

  HttpProbeConfig config_;
  std::optional<std::regex> body_regex_;
};

// Maps a libcurl error to our bounded reason vocabulary.
const char* ReasonForCurlCode(int curl_code);

}  // namespace botwatch
