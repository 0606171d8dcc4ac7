#include "collectors/lib/http_request.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <ctime>
#include <sstream>

#include "base/ascii.h"
#include "base/base64.h"
#include "base/config_node.h"
#include "base/redact.h"
#include "collectors/collector.h"
#include "collectors/lib/lazy_libraries.h"

namespace botwatch {
namespace {

struct Sink {
  ProbeResponse* response;
  size_t limit;
};

size_t WriteBody(char* data, size_t size, size_t nmemb, void* user) {
  auto* sink = static_cast<Sink*>(user);
  std::string& body = sink->response->body;
  size_t n = size * nmemb;
  size_t room = sink->limit > body.size() ? sink->limit - body.size() : 0;
  if (n > room) sink->response->body_truncated = true;
  body.append(data, std::min(n, room));
  return n;
}

std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

size_t WriteHeader(char* data, size_t size, size_t nmemb, void* user) {
  auto* response = static_cast<ProbeResponse*>(user);
  size_t n = size * nmemb;
  std::string line(data, n);
  if (line.rfind("HTTP/", 0) == 0) {
    response->headers.clear();  // a new response (e.g. after 100 Continue)
    return n;
  }
  size_t colon = line.find(':');
  if (colon == std::string::npos) return n;
  std::string name = line.substr(0, colon);
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  if (response->headers.size() < 200) response->headers.emplace_back(name, Trim(line.substr(colon + 1)));
  return n;
}

}  // namespace

const std::string& ProbeResponse::Header(const std::string& name) const {
  static const std::string kEmpty;
  for (auto it = headers.rbegin(); it != headers.rend(); ++it) {
    if (it->first == name) return it->second;
  }
  return kEmpty;
}

namespace {

// libcurl's informational lines (CURLINFO_TEXT) only: header and data lines
// may carry credentials and are never looked at.
int ReadHandshakeLine(CURL*, curl_infotype type, char* data, size_t size, void* user) {
  if (type != CURLINFO_TEXT) return 0;
  auto* response = static_cast<ProbeResponse*>(user);
  if (response->tls_version.empty()) {
    response->tls_version = TlsVersionFromHandshakeLine(std::string(data, std::min<size_t>(size, 200)));
  }
  return 0;
}

// The earliest "Expire date" of the chain libcurl collected (CURLOPT_CERTINFO).
double EarliestExpiry(CURL* curl) {
  curl_certinfo* chain = nullptr;
  if (curl_easy_getinfo(curl, CURLINFO_CERTINFO, &chain) != CURLE_OK || chain == nullptr) return 0;
  double earliest = 0;
  for (int i = 0; i < chain->num_of_certs; ++i) {
    for (curl_slist* field = chain->certinfo[i]; field != nullptr; field = field->next) {
      static constexpr char kExpire[] = "Expire date:";
      if (std::strncmp(field->data, kExpire, sizeof kExpire - 1) != 0) continue;
      if (auto t = ParseCertificateDate(field->data + sizeof kExpire - 1)) {
        if (earliest == 0 || *t < earliest) earliest = *t;
      }
    }
  }
  return earliest;
}

// One request of a (possibly redirected) chain.
struct Hop {
  std::string method;
  std::string url;
  const std::vector<Secret>* headers;      // nullptr: none (left the origin)
  const std::optional<std::string>* body;  // nullptr: none
};

// `request` gives the options (TLS, body limit); `hop` what is sent. A 3xx's
// Location, made absolute, goes to *redirect_url.
ProbeResponse PerformHop(const ProbeRequest& request, const Hop& hop, Duration timeout, std::string* redirect_url) {
  ProbeResponse response;
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    response.curl_code = CURLE_FAILED_INIT;
    std::string missing = LibcurlMissing();
    response.curl_error = missing.empty() ? "cannot initialise libcurl" : missing;
    return response;
  }
  char errbuf[CURL_ERROR_SIZE] = {0};
  Sink sink{&response, request.max_body_bytes};
  curl_slist* headers = nullptr;
  if (hop.headers != nullptr) {
    for (const Secret& h : *hop.headers) headers = curl_slist_append(headers, h.reveal().c_str());
  }
  curl_easy_setopt(curl, CURLOPT_URL, hop.url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // worker threads: no SIGALRM for DNS timeouts
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(std::max<int64_t>(1, timeout.count())));
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &WriteBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &WriteHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "botwatch");
  // Redirects are followed by PerformHttp, hop by hop: libcurl would send
  // custom headers (API keys) to whatever host a redirect names.
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, request.tls_verify ? 1L : 0L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, request.tls_verify ? 2L : 0L);
  if (!request.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, request.ca_file.c_str());
  if (!request.cert_file.empty()) curl_easy_setopt(curl, CURLOPT_SSLCERT, request.cert_file.c_str());
  if (!request.key_file.empty()) curl_easy_setopt(curl, CURLOPT_SSLKEY, request.key_file.c_str());
  const bool tls_details = request.tls_details && AsciiLower(hop.url.substr(0, 8)) == "https://";
  if (tls_details) {
    curl_easy_setopt(curl, CURLOPT_CERTINFO, 1L);
    curl_easy_setopt(curl, CURLOPT_DEBUGFUNCTION, &ReadHandshakeLine);
    curl_easy_setopt(curl, CURLOPT_DEBUGDATA, &response);
    curl_easy_setopt(curl, CURLOPT_VERBOSE, 1L);  // only so that the callback above gets the handshake line
  }
  if (hop.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);  // a custom HEAD would wait for a body that never comes
  } else if (hop.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, hop.method.c_str());
  }
  if (hop.body != nullptr && hop.body->has_value()) {
    const std::string& body = **hop.body;
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  }
  CURLcode rc = curl_easy_perform(curl);
  response.curl_code = rc;
  if (rc != CURLE_OK) response.curl_error = errbuf[0] ? errbuf : curl_easy_strerror(rc);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  double v = 0;
  if (curl_easy_getinfo(curl, CURLINFO_NAMELOOKUP_TIME, &v) == CURLE_OK) response.dns_seconds = v;
  if (curl_easy_getinfo(curl, CURLINFO_CONNECT_TIME, &v) == CURLE_OK) response.connect_seconds = v;
  if (curl_easy_getinfo(curl, CURLINFO_APPCONNECT_TIME, &v) == CURLE_OK) response.tls_seconds = v;
  if (curl_easy_getinfo(curl, CURLINFO_STARTTRANSFER_TIME, &v) == CURLE_OK) response.first_byte_seconds = v;
  if (curl_easy_getinfo(curl, CURLINFO_TOTAL_TIME, &v) == CURLE_OK) response.total_seconds = v;
  if (tls_details && rc == CURLE_OK) {
    response.tls_earliest_expiry = EarliestExpiry(curl);
  } else {
    response.tls_version.clear();  // a failed handshake's version says nothing
  }
  char* location = nullptr;
  if (rc == CURLE_OK && curl_easy_getinfo(curl, CURLINFO_REDIRECT_URL, &location) == CURLE_OK && location != nullptr) {
    *redirect_url = location;
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return response;
}

bool IsRedirect(long status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

}  // namespace

ProbeResponse PerformHttp(const ProbeRequest& request, Duration timeout) {
  if (timeout.count() <= 0) {
    ProbeResponse response;
    response.curl_code = CURLE_OPERATION_TIMEDOUT;
    response.curl_error = "no time left before the deadline";
    return response;
  }
  const SteadyTime deadline = std::chrono::steady_clock::now() + timeout;
  const std::string origin = UrlOrigin(request.url);
  Hop hop{request.method, request.url, &request.headers, &request.body};
  double elapsed = 0;  // seconds spent in the redirects before this hop
  for (int redirects = 0;; ++redirects) {
    std::string next;
    auto left = std::chrono::duration_cast<Duration>(deadline - std::chrono::steady_clock::now());
    ProbeResponse response = PerformHop(request, hop, left, &next);
    // Timings count from the start of the chain, as libcurl's own do.
    for (double* t :
         {&response.dns_seconds, &response.connect_seconds, &response.tls_seconds, &response.first_byte_seconds}) {
      if (*t > 0) *t += elapsed;
    }
    response.total_seconds += elapsed;
    if (!response.ok() || !IsRedirect(response.status) || next.empty() || request.max_redirects <= 0) {
      return response;
    }
    if (redirects >= request.max_redirects) {
      response.curl_code = CURLE_TOO_MANY_REDIRECTS;
      response.curl_error = "more than " + std::to_string(request.max_redirects) + " redirects";
      return response;
    }
    if (UrlOrigin(next).empty()) {
      response.curl_code = CURLE_UNSUPPORTED_PROTOCOL;
      response.curl_error = "redirect to a URL that is not http:// or https://";
      return response;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      response.curl_code = CURLE_OPERATION_TIMEDOUT;
      response.curl_error = "no time left before the deadline to follow a redirect";
      return response;
    }
    elapsed = response.total_seconds;
    // As browsers and libcurl do: 303 turns into GET, and so do 301/302 of a POST.
    if (response.status == 303 || (hop.method == "POST" && response.status != 307 && response.status != 308)) {
      if (hop.method != "HEAD") hop.method = "GET";
      hop.body = nullptr;
    }
    if (origin.empty() || UrlOrigin(next) != origin) {
      // Dropped for the rest of the chain, even a hop back to the origin: the
      // other host chose that URL.
      hop.headers = nullptr;
      hop.body = nullptr;
    }
    hop.url = next;
  }
}

std::optional<double> ParseCertificateDate(const std::string& text) {
  static const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::istringstream in(text);
  std::string month, clock, zone;
  int day = 0, year = 0;
  if (!(in >> month >> day >> clock >> year >> zone) || zone != "GMT") return std::nullopt;
  std::string rest;
  if (in >> rest) return std::nullopt;
  std::tm tm{};
  tm.tm_mon = -1;
  for (int i = 0; i < 12; ++i) {
    if (month == kMonths[i]) tm.tm_mon = i;
  }
  int h = 0, m = 0, sec = 0;
  char c1 = 0, c2 = 0;
  std::istringstream hms(clock);
  if (tm.tm_mon < 0 || day < 1 || day > 31 || year < 1970 || year > 9999 || !(hms >> h >> c1 >> m >> c2 >> sec) ||
      c1 != ':' || c2 != ':' || h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec > 60) {
    return std::nullopt;
  }
  tm.tm_mday = day;
  tm.tm_year = year - 1900;
  tm.tm_hour = h;
  tm.tm_min = m;
  tm.tm_sec = sec;
  return static_cast<double>(timegm(&tm));
}

std::string TlsVersionFromHandshakeLine(const std::string& line) {
  static constexpr char kPrefix[] = "SSL connection using TLSv";
  if (line.rfind(kPrefix, 0) != 0) return "";
  size_t start = sizeof kPrefix - 1;
  size_t end = start;
  while (end < line.size() && (std::isdigit(static_cast<unsigned char>(line[end])) || line[end] == '.')) ++end;
  if (end == start) return "";
  return "TLS " + line.substr(start, end - start);
}

const char* ReasonForCurlCode(int code) {
  switch (static_cast<CURLcode>(code)) {
    case CURLE_OK:
      return reason::kOk;
    case CURLE_OPERATION_TIMEDOUT:
      return reason::kTimeout;
    case CURLE_COULDNT_CONNECT:
      return reason::kConnectionRefused;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return reason::kDns;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
      return reason::kTls;
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
      return reason::kIo;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_TOO_MANY_REDIRECTS:
      return reason::kProtocol;
    default:
      return reason::kIo;
  }
}

std::string UrlOrigin(const std::string& url) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return "";
  std::string scheme = AsciiLower(url.substr(0, scheme_end));
  std::string default_port;
  if (scheme == "http") {
    default_port = "80";
  } else if (scheme == "https") {
    default_port = "443";
  } else {
    return "";
  }
  size_t start = scheme_end + 3;
  size_t end = url.find_first_of("/?#", start);
  std::string authority = url.substr(start, end == std::string::npos ? std::string::npos : end - start);
  if (size_t at = authority.rfind('@'); at != std::string::npos) authority = authority.substr(at + 1);
  std::string host = authority, port = default_port;
  size_t colon = authority.rfind(':');
  if (colon != std::string::npos && authority.find(']', colon) == std::string::npos) {
    host = authority.substr(0, colon);
    if (colon + 1 < authority.size()) port = authority.substr(colon + 1);
  }
  if (host.empty()) return "";
  return scheme + "://" + AsciiLower(host) + ":" + port;
}

std::string StatusClass(long status) {
  if (status < 100 || status > 599) return "none";
  return std::to_string(status / 100) + "xx";
}

std::string RedactSecrets(std::string text, const std::vector<const Secret*>& secrets) {
  Redactor redactor;
  for (const Secret* s : secrets) {
    if (s != nullptr) redactor.AddHeaderValue(s->reveal());
  }
  return redactor.Redact(std::move(text));
}

std::string QuotePeer(const std::string& text, const std::vector<const Secret*>& secrets, size_t max_bytes) {
  std::string out = RedactSecrets(text, secrets);
  if (out.size() <= max_bytes) return out;
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 sequence
  out.resize(cut);
  return out + "...";
}

std::string ConfigBaseUrl(ConfigMap& config, const std::string& def) {
  std::string url = config.String("base_url", def);
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
    config.FailAt("base_url", "must start with http:// or https://");
  }
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

std::string ConfigUrl(ConfigMap& config) {
  std::string url = config.RequiredString("url");
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
    config.FailAt("url", "must start with http:// or https://");
  }
  return url;
}

void FetchOptions::ApplyTo(ProbeRequest& req) const {
  req.max_body_bytes = max_body_bytes;
  req.tls_verify = tls_verify;
  req.ca_file = ca_file;
  req.max_redirects = follow_redirects ? 10 : 0;
}

FetchOptions ReadFetchOptions(ConfigMap& config, int64_t max_body_def, int64_t max_body_min, int64_t max_body_max) {
  FetchOptions o;
  o.tls_verify = !config.Bool("insecure_skip_verify", false);
  o.ca_file = config.String("ca_file", "");
  o.follow_redirects = config.Bool("follow_redirects", true);
  o.max_body_bytes = static_cast<size_t>(config.Int("max_body_bytes", max_body_def, max_body_min, max_body_max));
  return o;
}

std::string UrlEncode(const std::string& value) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

void ReadAuthConfig(ConfigMap& config, std::vector<Secret>* headers, std::vector<Secret>* redact) {
  if (auto b = config.OptionalMap("basic_auth")) {
    std::string user = b->RequiredString("username");
    Secret password = b->RequiredSecret("password");
    b->RejectUnknownKeys();
    std::string token = Base64Encode(user + ":" + password.reveal());
    headers->emplace_back("Authorization: Basic " + token);
    redact->push_back(password);
    redact->emplace_back(token);
  }
  if (auto a = config.OptionalMap("authorization")) {
    if (!headers->empty()) config.FailAt("authorization", "set basic_auth or authorization, not both");
    std::string type = a->String("type", "Bearer");
    Secret credentials = a->RequiredSecret("credentials");
    a->RejectUnknownKeys();
    headers->emplace_back("Authorization: " + type + " " + credentials.reveal());
    redact->push_back(credentials);
  }
}

}  // namespace botwatch
