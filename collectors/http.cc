#include "collectors/http.h"

#include <algorithm>

#include "base/config_node.h"
#include "collectors/registry.h"

namespace botwatch {

BOTWATCH_REGISTER_COLLECTOR("http", HttpCollector::Create);

namespace {

bool ValidHeaderName(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
  }
  return true;
}

}  // namespace

std::unique_ptr<Collector> HttpCollector::Create(const CollectorSpec&, ConfigMap& config) {
  HttpProbeConfig c;
  c.url = ConfigUrl(config);
  c.method = config.String("method", "GET");
  static const std::vector<std::string> kMethods = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
  if (std::find(kMethods.begin(), kMethods.end(), c.method) == kMethods.end()) {
    config.FailAt("method",
                  "unsupported method \"" + c.method + "\" (use GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS)");
  }
  for (auto& [name, value] : config.StringMap("headers")) {
    if (!ValidHeaderName(name)) config.FailAt("headers", "invalid header name \"" + name + "\"");
    c.headers.emplace_back(name, Secret(value));
  }
  c.body = config.OptionalSecret("body");
  for (int64_t code : config.IntList("valid_status_codes", 100, 599))
    c.valid_status_codes.push_back(static_cast<int>(code));
  c.body_regex_source = config.OptionalString("body_regex");
  if (c.body_regex_source) {
    try {
      std::regex check(*c.body_regex_source, std::regex::extended);
    } catch (const std::regex_error& e) {
      config.FailAt("body_regex", std::string("invalid regular expression: ") + e.what());
    }
  }
  c.fetch = ReadFetchOptions(config, 1 << 20, 0, 64 << 20);
  return std::make_unique<HttpCollector>(std::move(c));
}

HttpCollector::HttpCollector(HttpProbeConfig config) : config_(std::move(config)) {
  if (config_.body_regex_source) body_regex_.emplace(*config_.body_regex_source, std::regex::extended);
  for (const auto& [name, value] : config_.headers) redactor_.AddHeaderValue(value.reveal());
  if (config_.body) redactor_.Add(config_.body->reveal());
  // http://user:password@host/: the password.
  size_t scheme_end = config_.url.find("://");
  size_t authority_end = config_.url.find_first_of("/?#", scheme_end + 3);
  std::string authority = config_.url.substr(
      scheme_end + 3, authority_end == std::string::npos ? std::string::npos : authority_end - scheme_end - 3);
  size_t at = authority.rfind('@');
  size_t colon = authority.find(':');
  if (at != std::string::npos && colon < at) {
    redactor_.AddBasicAuth(authority.substr(0, colon), authority.substr(colon + 1, at - colon - 1));
  }
}

ProbeResult HttpCollector::Evaluate(const ProbeResponse& ex) const {
  FamilyBuilder fb;
  fb.Gauge("botwatch_http_duration_seconds", "Total time of the probe request.", ex.total_seconds);
  if (!ex.ok()) {
    ProbeResult r = ProbeResult::Down(ReasonForCurlCode(ex.curl_code), redactor_.Redact(ex.curl_error));
    r.families = fb.Take();
    return r;
  }
  fb.Gauge("botwatch_http_status_code", "HTTP status code of the last response.", static_cast<double>(ex.status));
  fb.Gauge("botwatch_http_phase_seconds", "Time spent in each phase of the request.", ex.dns_seconds,
           {{"phase", "resolve"}});
  fb.Gauge("botwatch_http_phase_seconds", "", std::max(0.0, ex.connect_seconds - ex.dns_seconds),
           {{"phase", "connect"}});
  fb.Gauge("botwatch_http_phase_seconds", "", ex.tls_seconds > 0 ? ex.tls_seconds - ex.connect_seconds : 0,
           {{"phase", "tls"}});
  fb.Gauge("botwatch_http_phase_seconds", "",
           std::max(0.0, ex.first_byte_seconds - std::max(ex.connect_seconds, ex.tls_seconds)),
           {{"phase", "processing"}});
  fb.Gauge("botwatch_http_phase_seconds", "", std::max(0.0, ex.total_seconds - ex.first_byte_seconds),
           {{"phase", "transfer"}});
  if (ex.tls_earliest_expiry > 0) {
    fb.Gauge("botwatch_http_tls_cert_expiry_timestamp_seconds",
             "Earliest notAfter of the certificates the server presented (Unix seconds).", ex.tls_earliest_expiry);
  }
  if (!ex.tls_version.empty()) {
    fb.Gauge("botwatch_http_tls_version_info", "TLS version of the connection; the value is always 1.", 1,
             {{"version", ex.tls_version}});
  }
  fb.Gauge("botwatch_http_response_body_bytes", "Bytes of the response body read (up to max_body_bytes).",
           static_cast<double>(ex.body.size()));

  bool status_ok = config_.valid_status_codes.empty()
                       ? (ex.status >= 200 && ex.status < 300)
                       : std::find(config_.valid_status_codes.begin(), config_.valid_status_codes.end(),
                                   static_cast<int>(ex.status)) != config_.valid_status_codes.end();
  ProbeResult r;
  if (!status_ok) {
    r = ProbeResult::Down(reason::kHttpStatus, "unexpected HTTP status " + std::to_string(ex.status));
  } else if (body_regex_ && !std::regex_search(ex.body, *body_regex_)) {
    r = ProbeResult::Down(reason::kBodyMismatch, "response body does not match body_regex");
  } else {
    r = ProbeResult::Up();
  }
  r.families = fb.Take();
  return r;
}

ProbeResult HttpCollector::Collect(const ProbeContext& ctx) {
  ProbeRequest req;
  req.method = config_.method;
  req.url = config_.url;
  for (const auto& [name, value] : config_.headers) req.headers.emplace_back(name + ": " + value.reveal());
  if (config_.body) req.body = config_.body->reveal();
  config_.fetch.ApplyTo(req);
  req.tls_details = true;
  return Evaluate(PerformHttp(req, ctx.Remaining()));
}

}  // namespace botwatch
