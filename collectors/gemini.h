#pragma once

// `type: gemini`: the Gemini API (Generative Language API) the bot calls.
// Each probe reads the configured model (GET {base}/{version}/models/{model});
// optionally (off by default, since it spends quota) it also makes a tiny
// countTokens or generateContent call to measure real request latency. The API
// key travels in the x-goog-api-key header, never in a URL.

#include <optional>
#include <string>
#include <vector>

#include "base/secret.h"
#include "collectors/collector.h"
#include "collectors/lib/http_request.h"

namespace botwatch {

class ConfigMap;

struct GeminiConfig {
  std::string base_url = "https://generativelanguage.googleapis.com";
  std::string api_version = "v1beta";
  Secret api_key;
  std::string model;  // without the "models/" prefix
  enum class Call { kNone, kCountTokens, kGenerateContent } call = Call::kNone;
  std::string ca_file;
};

namespace gemini_reason {
inline constexpr const char* kQuotaExhausted = "quota_exhausted";
inline constexpr const char* kModelNotFound = "model_not_found";
inline constexpr const char* kAuth = reason::kAuth;
inline constexpr const char* kServerError = "server_error";
}  // namespace gemini_reason

// What a google.rpc error body says, as far as the probe cares:
// {"error":{"code":429,"message":...,"status":"RESOURCE_EXHAUSTED","details":[
//   {"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaId":...}]},
//   {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"37s"}]}}
struct GoogleRpcError {
  int code = 0;
  std::string status;  // e.g. RESOURCE_EXHAUSTED
  std::string message;
  std::vector<std::string> quota_kinds;  // per_minute / per_day / tokens / other, one per violation
  std::optional<double> retry_delay_seconds;
  std::string error_info_reason;  // ErrorInfo.reason, e.g. API_KEY_INVALID
};

std::optional<GoogleRpcError> ParseGoogleRpcError(const std::string& body);

// Bounded kind of a quota from QuotaFailure's quotaId / quotaMetric.
std::string ClassifyQuota(const std::string& quota_id, const std::string& quota_metric);

// google.protobuf.Duration in JSON ("37s", "0.5s"); nullopt if malformed.
std::optional<double> ParseProtoDuration(const std::string& text);

// Reason for a non-2xx answer.
const char* ReasonForGeminiError(long http_status, const std::optional<GoogleRpcError>& error);

class GeminiCollector : public Collector {
 public:
  static std::unique_ptr<Collector> Create(const CollectorSpec& spec, ConfigMap& config);

  explicit GeminiCollector(GeminiConfig config);
  ProbeResult Collect(const ProbeContext& ctx) override;

 private:
  ProbeResponse Request(const std::string& method, const std::string& path, const std::optional<std::string>& body,
                        const ProbeContext& ctx) const;

  GeminiConfig config_;
};

}  // namespace botwatch
