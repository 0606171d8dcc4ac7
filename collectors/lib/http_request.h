#pragma once

// One blocking libcurl request bounded by a timeout, keeping the response
// headers and phase timings: the only code in botwatch that drives libcurl,
// used by the http, facebook, gemini and socketio collectors. Request URLs and
// headers may carry credentials, so nothing here logs them, and curl's own
// error text names at most host and port.
// (Named Probe* because agent/web_server.h already has botwatch::HttpRequest
// and HttpResponse for the server side; one name, two classes = ODR violation.)

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/duration.h"
#include "base/secret.h"

namespace botwatch {

class ConfigMap;

struct ProbeRequest {
  std::string method = "GET";
  std::string url;
  std::vector<Secret> headers;      // "Name: value" lines; values may be credentials
  std::optional<std::string> body;  // may be a credential too
  size_t max_body_bytes = 1 << 20;  // the rest is read (so timings cover it) but not kept
  bool tls_verify = true;
  std::string ca_file;
  std::string cert_file, key_file;  // a client certificate (remote_write tls_config)
  // 0: a 3xx is the answer. Otherwise up to this many redirects are followed;
  // `headers` and `body` go only to the request's own origin (scheme, host and
  // port): once a redirect leaves it they are dropped for the rest of the chain,
  // so a credential never reaches another host.
  int max_redirects = 0;
  // https only: read the certificate chain the server presented and the TLS
  // version (ProbeResponse::tls_*). Off by default: only `type: http` reports them.
  bool tls_details = false;
};

struct ProbeResponse {
  int curl_code = 0;  // CURLcode; 0 = a response arrived
  std::string curl_error;
  long status = 0;
  std::string body;
  bool body_truncated = false;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  // Seconds from the start of the first request (redirects included) until
  // each phase of the last one ended; 0 for a phase that did not happen.
  double dns_seconds = 0, connect_seconds = 0, tls_seconds = 0, first_byte_seconds = 0, total_seconds = 0;
  // With ProbeRequest::tls_details, of the connection that gave the response
  // (the last hop after redirects): the earliest notAfter of every certificate
  // in the presented chain (Unix seconds; 0 = no TLS or unknown) and the
  // protocol version as "TLS 1.3" ("" = no TLS or unknown).
  double tls_earliest_expiry = 0;
  std::string tls_version;

  bool ok() const { return curl_code == 0; }
  // Value of the last header named `name` (lower case); "" if absent.
  const std::string& Header(const std::string& name) const;
};

// Never runs longer than `timeout`. With no time left (zero or less: the
// probe's deadline has passed) it returns a timed-out response without
// sending anything. The timeout covers every redirect followed.
ProbeResponse PerformHttp(const ProbeRequest& request, Duration timeout);

// The Unix time of a certificate date as OpenSSL prints it (libcurl's
// CURLINFO_CERTINFO "Expire date:" field): "Mar  5 12:00:00 2027 GMT",
// optionally with fractional seconds. nullopt if it is not one.
std::optional<double> ParseCertificateDate(const std::string& text);

// "TLS 1.3" from the line libcurl logs after a handshake ("SSL connection
// using TLSv1.3 / TLS_AES_256_GCM_SHA384"); "" for any other line.
std::string TlsVersionFromHandshakeLine(const std::string& line);

// Maps a libcurl error (ProbeResponse::curl_code) to the bounded reason vocabulary.
const char* ReasonForCurlCode(int curl_code);

// "scheme://host:port" of an absolute http(s) URL, lower-cased, with the
// scheme's default port filled in; "" if `url` is not one.
std::string UrlOrigin(const std::string& url);

// "2xx" etc. for a status code; "none" when no response arrived.
std::string StatusClass(long status);

// Replaces every occurrence of each secret's value with "<secret>", in each
// form a peer may echo it back in (escaped, percent-encoded, base64: see
// base/redact.h; a "Bearer x"/"Basic x" header value also by its credential):
// for text that quotes a peer (error messages) before it reaches a log or the
// status API.
std::string RedactSecrets(std::string text, const std::vector<const Secret*>& secrets);

// How a peer's own text (an API error message, a response body) is kept for a
// ProbeResult message: secrets redacted first, then cut to `max_bytes` (on a
// UTF-8 boundary, "..." appended). In that order, so a secret straddling the
// cut cannot leave a prefix behind.
inline constexpr size_t kPeerTextBytes = 200;
std::string QuotePeer(const std::string& text, const std::vector<const Secret*>& secrets,
                      size_t max_bytes = kPeerTextBytes);

// The `base_url` key of an API collector (default `def`): http:// or https://,
// trailing slashes removed; otherwise an error at the key.
std::string ConfigBaseUrl(ConfigMap& config, const std::string& def);

// The `url` key of a collector that fetches one URL (http, scrape): http:// or
// https://; otherwise an error at the key.
std::string ConfigUrl(ConfigMap& config);

// How a collector that fetches one URL (http, scrape) reaches it.
struct FetchOptions {
  bool tls_verify = true;
  std::string ca_file;
  bool follow_redirects = true;  // up to 10; headers and body stay on the url's origin
  size_t max_body_bytes = 1 << 20;
  void ApplyTo(ProbeRequest& req) const;
};

// The keys of FetchOptions: `insecure_skip_verify`, `ca_file`, `follow_redirects`
// and `max_body_bytes` (`max_body_def` when absent, from `max_body_min` to `max_body_max`).
FetchOptions ReadFetchOptions(ConfigMap& config, int64_t max_body_def, int64_t max_body_min, int64_t max_body_max);

// Percent-encodes a query parameter value.
std::string UrlEncode(const std::string& value);

// Reads exporter-toolkit's `basic_auth` {username, password} or `authorization`
// {type (default Bearer), credentials} from `config` (not both: a ConfigError
// at the key) into an "Authorization: ..." line in `headers`, and what an
// error must never quote into `redact` (the secret and, for basic auth, its
// base64 token).
void ReadAuthConfig(ConfigMap& config, std::vector<Secret>* headers, std::vector<Secret>* redact);

}  // namespace botwatch
