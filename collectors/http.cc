#include "collectors/http.h"

#include <curl/curl.h>

#include <algorithm>

#include "base/config_node.h"
#include "collectors/registry.h"

namespace botwatch {

BOTWATCH_REGISTER_COLLECTOR("http", HttpCollector::Create);

namespace {

struct BodySink {
  std::string* body;
  size_t limit;
  bool* truncated;
};

size_t WriteBody(char* data, size_t size, size_t nmemb, void* user) {
  auto* sink = static_cast<BodySink*>(user);
  size_t n = size * nmemb;
  size_t room = sink->limit > sink->body->size() ? sink->limit - sink->body->size() : 0;
  if (n > room) *sink->truncated = true;
  sink->body->append(data, std::min(n, room));
  return n;  // keep reading so timing covers the whole response
}

bool ValidHeaderName(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
  }
  return true;
}

}  // namespace

const char* ReasonForCurlCode(int code) {
  switch (static_cast<CURLcode>(code)) {
    case CURLE_OK: return reason::kOk;
    case CURLE_OPERATION_TIMEDOUT: return reason::kTimeout;
    case CURLE_COULDNT_CONNECT: return reason::kConnectionRefused;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return reason::kDns;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE: return reason::kTls;
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE: return reason::kIo;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_TOO_MANY_REDIRECTS: return reason::kProtocol;
    default: return reason::kIo;
  }
}

std::unique_ptr<Collector> HttpCollector::Create(const CollectorSpec&, ConfigMap& config) {
  HttpProbeConfig c;
  c.url = config.RequiredString("url");
  if (c.url.rfind("http://", 0) != 0 && c.url.rfind("https://", 0) != 0) {
    config.FailAt("url", "must start with http:// or https://");
  }
  c.method = config.String("method", "GET");
  static const std::vector<std::string> kMethods = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
  if (std::find(kMethods.begin(), kMethods.end(), c.method) == kMethods.end()) {
    config.FailAt("method", "unsupported method \"" + c.method + "\" (use GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS)");
  }
  for (auto& [name, value] : config.StringMap("headers")) {
    if (!ValidHeaderName(name)) config.FailAt("headers", "invalid header name \"" + name + "\"");
    c.headers.emplace_back(name, Secret(value));
  }
  c.body = config.OptionalSecret("body");
  for (int64_t code : config.IntList("valid_status_codes", 100, 599)) c.valid_status_codes.push_back(static_cast<int>(code));
  c.body_regex_source = config.OptionalString("body_regex");
  if (c.body_regex_source) {
    try {
      std::regex check(*c.body_regex_source, std::regex::extended);
    } catch (const std::regex_error& e) {
      config.FailAt("body_regex", std::string("invalid regular expression: ") + e.what());
    }
  }
  c.tls_verify = !config.Bool("insecure_skip_verify", false);
  c.ca_file = config.String("ca_file", "");
  c.follow_redirects = config.Bool("follow_redirects", true);
  c.max_body_bytes = static_cast<size_t>(config.Int("max_body_bytes", 1 << 20, 0, 64 << 20));
  return std::make_unique<HttpCollector>(std::move(c));
}

HttpCollector::HttpCollector(HttpProbeConfig config) : config_(std::move(config)) {
  if (config_.body_regex_source) body_regex_.emplace(*config_.body_regex_source, std::regex::extended);
}

HttpExchange HttpCollector::Perform(Duration timeout) const {
  HttpExchange ex;
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    ex.curl_code = CURLE_FAILED_INIT;
    ex.curl_error = "cannot initialise libcurl";
    return ex;
  }
  char errbuf[CURL_ERROR_SIZE] = {0};
  BodySink sink{&ex.body, config_.max_body_bytes, &ex.body_truncated};
  curl_slist* headers = nullptr;
  for (const auto& [name, value] : config_.headers) {
    headers = curl_slist_append(headers, (name + ": " + value.reveal()).c_str());
  }
  curl_easy_setopt(curl, CURLOPT_URL, config_.url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM for DNS timeouts
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(std::max<int64_t>(1, timeout.count())));
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &WriteBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "botwatch");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, config_.follow_redirects ? 1L : 0L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, config_.tls_verify ? 1L : 0L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, config_.tls_verify ? 2L : 0L);
  if (!config_.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, config_.ca_file.c_str());
  if (config_.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (config_.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, config_.method.c_str());
  }
  if (config_.body) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(config_.body->reveal().size()));
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, config_.body->reveal().c_str());
  }

  CURLcode rc = curl_easy_perform(curl);
  ex.curl_code = rc;
  if (rc != CURLE_OK) {
    // libcurl's messages name host and port at most, never the URL's query or headers.
    ex.curl_error = errbuf[0] ? errbuf : curl_easy_strerror(rc);
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &ex.status);
  double v = 0;
  if (curl_easy_getinfo(curl, CURLINFO_NAMELOOKUP_TIME, &v) == CURLE_OK) ex.dns_seconds = v;
  if (curl_easy_getinfo(curl, CURLINFO_CONNECT_TIME, &v) == CURLE_OK) ex.connect_seconds = v;
  if (curl_easy_getinfo(curl, CURLINFO_APPCONNECT_TIME, &v) == CURLE_OK) ex.tls_seconds = v;
  if (curl_easy_getinfo(curl, CURLINFO_STARTTRANSFER_TIME, &v) == CURLE_OK) ex.first_byte_seconds = v;
  if (curl_easy_getinfo(curl, CURLINFO_TOTAL_TIME, &v) == CURLE_OK) ex.total_seconds = v;
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return ex;
}

ProbeResult HttpCollector::Evaluate(const HttpExchange& ex) const {
  FamilyBuilder fb;
  fb.Gauge("botwatch_http_duration_seconds", "Total time of the probe request.", ex.total_seconds);
  if (ex.curl_code != CURLE_OK) {
    ProbeResult r = ProbeResult::Down(ReasonForCurlCode(ex.curl_code), ex.curl_error);
    r.families = fb.Take();
    return r;
  }
  fb.Gauge("botwatch_http_status_code", "HTTP status code of the last response.", static_cast<double>(ex.status));
  fb.Gauge("botwatch_http_phase_seconds", "Time spent in each phase of the request.", ex.dns_seconds, {{"phase", "resolve"}});
  fb.Gauge("botwatch_http_phase_seconds", "", std::max(0.0, ex.connect_seconds - ex.dns_seconds), {{"phase", "connect"}});
  fb.Gauge("botwatch_http_phase_seconds", "", ex.tls_seconds > 0 ? ex.tls_seconds - ex.connect_seconds : 0, {{"phase", "tls"}});
  fb.Gauge("botwatch_http_phase_seconds", "",
           std::max(0.0, ex.first_byte_seconds - std::max(ex.connect_seconds, ex.tls_seconds)), {{"phase", "processing"}});
  fb.Gauge("botwatch_http_phase_seconds", "", std::max(0.0, ex.total_seconds - ex.first_byte_seconds), {{"phase", "transfer"}});
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
  Duration left = ctx.Remaining();
  if (left.count() <= 0) return ProbeResult::Down(reason::kTimeout, "no time left before the deadline");
  return Evaluate(Perform(left));
}

}  // namespace botwatch
