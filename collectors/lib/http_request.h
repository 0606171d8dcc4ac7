#pragma once

// One blocking libcurl request bounded by a timeout, keeping the response
// headers: the building block of the API collectors (facebook, gemini,
// socketio). Request URLs and headers may carry credentials, so nothing here
// logs them, and curl's own error text names at most host and port.
// (Named Probe* because agent/web_server.h already has botwatch::HttpRequest
// and HttpResponse for the server side; one name, two classes = ODR violation.)

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/duration.h"
#include "base/secret.h"

namespace botwatch {

struct ProbeRequest {
  std::string method = "GET";
  std::string url;
  std::vector<Secret> headers;  // "Name: value" lines; values may be credentials
  std::optional<std::string> body;
  size_t max_body_bytes = 1 << 20;
  bool tls_verify = true;
  std::string ca_file;
};

struct ProbeResponse {
  int curl_code = 0;  // CURLcode; 0 = a response arrived
  std::string curl_error;
  long status = 0;
  std::string body;
  bool body_truncated = false;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  double total_seconds = 0;

  bool ok() const { return curl_code == 0; }
  // Value of the last header named `name` (lower case); "" if absent.
  const std::string& Header(const std::string& name) const;
};

// Never runs longer than `timeout`. With no time left (zero or less: the
// probe's deadline has passed) it returns a timed-out response without
// sending anything. Redirects are not followed.
ProbeResponse PerformHttp(const ProbeRequest& request, Duration timeout);

// "2xx" etc. for a status code; "none" when no response arrived.
std::string StatusClass(long status);

// Replaces every occurrence of each secret's value with "<secret>": for text
// that quotes a peer (error messages) before it reaches a log or the status API.
std::string RedactSecrets(std::string text, const std::vector<const Secret*>& secrets);

// Percent-encodes a query parameter value.
std::string UrlEncode(const std::string& value);

}  // namespace botwatch
