#pragma once

// `type: facebook`: the Messenger bot's Graph API dependency. One probe makes
// up to three calls, each bounded by what is left of the deadline:
//   GET /{version}/debug_token?input_token=<page token>  (app token = app_id|app_secret)
//   GET /{version}/me?fields=id                          (page token: reachability, latency)
//   GET /{version}/{page-id}/subscribed_apps             (page token: webhook fields)
// Tokens travel in the Authorization header, never in a URL that could be
// logged (debug_token's input_token is the one query parameter that must carry
// one; URLs are never logged). Every call carries appsecret_proof.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/secret.h"
#include "collectors/collector.h"
#include "collectors/lib/http_request.h"

namespace botwatch {

class ConfigMap;

struct FacebookConfig {
  std::string base_url = "https://graph.facebook.com";
  std::string api_version = "v21.0";
  Secret page_token;
  std::string app_id;
  Secret app_secret;
  std::string page_id;  // empty: the id that /me returns for the page token
  std::vector<std::string> required_scopes;
  bool check_webhook = true;
  std::vector<std::string> webhook_fields = {"messages", "messaging_postbacks"};
  std::string ca_file;
};

// A Graph API error object: {"error":{"message","type","code","error_subcode","fbtrace_id"}}.
struct GraphError {
  int code = 0;
  int subcode = 0;
  std::string message;
  std::string type;
};

// Bounded reasons specific to this collector (beyond reason::k*).
namespace facebook_reason {
inline constexpr const char* kTokenExpired = "token_expired";
inline constexpr const char* kTokenInvalid = "token_invalid";
inline constexpr const char* kPermission = "permission";
inline constexpr const char* kRateLimited = "rate_limited";
inline constexpr const char* kServerError = "server_error";
inline constexpr const char* kApiError = "api_error";
inline constexpr const char* kMissingScope = "missing_scope";
inline constexpr const char* kWebhookUnsubscribed = "webhook_unsubscribed";
}  // namespace facebook_reason

// Reason for a Graph error (by code and subcode) or, without one, an HTTP status.
const char* ReasonForGraphError(const std::optional<GraphError>& error, long http_status);

// Parses {"error":{...}} from a body; nullopt if the body is not one.
std::optional<GraphError> ParseGraphError(const std::string& body);

// Usage percentages from the X-App-Usage / X-Page-Usage / X-Business-Use-Case-Usage
// headers, as 0..1 ratios (values over 100 % stay over 1).
struct GraphUsage {
  std::map<std::string, double> app;  // kind -> ratio
  std::map<std::string, double> page;
  std::map<std::string, double> business;  // max over every business object and type
  double regain_access_seconds = 0;        // max of the headers' estimates
};
// Merges one response's headers into `usage`; malformed headers are ignored.
void ParseUsageHeaders(const ProbeResponse& response, GraphUsage* usage);

// Lower-case hex HMAC-SHA256 of `token` keyed with `app_secret`.
std::string AppSecretProof(const std::string& token, const std::string& app_secret);

class FacebookCollector : public Collector {
 public:
  static std::unique_ptr<Collector> Create(const CollectorSpec& spec, ConfigMap& config);

  explicit FacebookCollector(FacebookConfig config);
  ProbeResult Collect(const ProbeContext& ctx) override;

 private:
  class Probe;  // one Collect, call by call (facebook.cc)

  ProbeResponse Get(const std::string& path_and_query, const Secret& token, const ProbeContext& ctx) const;
  std::vector<const Secret*> Secrets() const;  // redacted from every message

  FacebookConfig config_;
  Secret app_token_;  // app_id|app_secret
};

}  // namespace botwatch
