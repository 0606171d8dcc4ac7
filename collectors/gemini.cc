#include "collectors/gemini.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "base/ascii.h"
#include "base/config_node.h"
#include "collectors/lib/json_fields.h"
#include "collectors/registry.h"

namespace botwatch {

BOTWATCH_REGISTER_COLLECTOR("gemini", GeminiCollector::Create);

namespace {

const char* const kQuotaKinds[] = {"per_minute", "per_day", "tokens", "other"};
const char* const kStatusClasses[] = {"2xx", "3xx", "4xx", "5xx"};

bool Contains(const std::string& haystack, const char* needle) { return haystack.find(needle) != std::string::npos; }

bool ValidModel(const std::string& m) {
  if (m.empty() || m.size() > 128) return false;
  for (char c : m) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_')) return false;
  }
  return true;
}

}  // namespace

std::string ClassifyQuota(const std::string& quota_id, const std::string& quota_metric) {
  std::string text = AsciiLower(quota_id + " " + quota_metric);
  // Token quotas are also per minute or per day; they are their own kind
  // because the fix differs (shorter prompts, not fewer requests).
  if (Contains(text, "token")) return "tokens";
  if (Contains(text, "perday") || Contains(text, "per_day") || Contains(text, "daily")) return "per_day";
  if (Contains(text, "perminute") || Contains(text, "per_minute")) return "per_minute";
  return "other";
}

std::optional<double> ParseProtoDuration(const std::string& text) {
  if (text.size() < 2 || text.back() != 's') return std::nullopt;
  std::string number = text.substr(0, text.size() - 1);
  if (number.find_first_not_of("0123456789.") != std::string::npos || number.front() == '.') return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(number.c_str(), &end);
  if (end != number.c_str() + number.size()) return std::nullopt;
  return v;
}

std::optional<GoogleRpcError> ParseGoogleRpcError(const std::string& body) {
  Json j = ParseJsonLenient(body);
  if (!j.is_object()) return std::nullopt;
  auto it = j.find("error");
  if (it == j.end() || !it->is_object()) return std::nullopt;
  const Json& e = *it;
  GoogleRpcError out;
  if (auto c = e.find("code"); c != e.end() && c->is_number_integer()) out.code = c->get<int>();
  out.status = JsonString(e, "status");
  out.message = JsonString(e, "message");
  auto details = e.find("details");
  if (details == e.end() || !details->is_array()) return out;
  for (const Json& d : *details) {
    std::string type = JsonString(d, "@type");
    if (type == "type.googleapis.com/google.rpc.QuotaFailure") {
      auto v = d.find("violations");
      if (v == d.end() || !v->is_array()) continue;
      for (const Json& violation : *v) {
        std::string kind = ClassifyQuota(JsonString(violation, "quotaId"), JsonString(violation, "quotaMetric"));
        if (std::find(out.quota_kinds.begin(), out.quota_kinds.end(), kind) == out.quota_kinds.end()) {
          out.quota_kinds.push_back(kind);
        }
      }
    } else if (type == "type.googleapis.com/google.rpc.RetryInfo") {
      out.retry_delay_seconds = ParseProtoDuration(JsonString(d, "retryDelay"));
    } else if (type == "type.googleapis.com/google.rpc.ErrorInfo") {
      out.error_info_reason = JsonString(d, "reason");
    }
  }
  return out;
}

const char* ReasonForGeminiError(long http_status, const std::optional<GoogleRpcError>& error) {
  std::string status = error ? error->status : "";
  std::string info = error ? error->error_info_reason : "";
  if (http_status == 429 || status == "RESOURCE_EXHAUSTED") return gemini_reason::kQuotaExhausted;
  // An invalid key is a 400 INVALID_ARGUMENT whose ErrorInfo says API_KEY_INVALID.
  if (http_status == 401 || http_status == 403 || status == "UNAUTHENTICATED" || status == "PERMISSION_DENIED" ||
      info.rfind("API_KEY_", 0) == 0) {
    return gemini_reason::kAuth;
  }
  if (http_status == 404 || status == "NOT_FOUND") return gemini_reason::kModelNotFound;
  if (http_status >= 500) return gemini_reason::kServerError;
  return reason::kHttpStatus;
}

std::unique_ptr<Collector> GeminiCollector::Create(const CollectorSpec&, ConfigMap& config) {
  GeminiConfig c;
  c.base_url = ConfigBaseUrl(config, c.base_url);
  c.api_version = config.String("api_version", c.api_version);
  if (c.api_version != "v1beta" && c.api_version != "v1") {
    config.FailAt("api_version", "expected v1beta or v1, got \"" + c.api_version + "\"");
  }
  c.api_key = config.RequiredSecret("api_key");
  c.model = config.RequiredString("model");
  if (c.model.rfind("models/", 0) == 0) c.model = c.model.substr(7);
  if (!ValidModel(c.model)) {
    config.FailAt("model", "\"" + c.model + "\" is not a model name (letters, digits, - . _), e.g. gemini-2.0-flash");
  }
  c.call = config.Choice<GeminiConfig::Call>("call", "none", "call",
                                             {{"none", GeminiConfig::Call::kNone},
                                              {"count_tokens", GeminiConfig::Call::kCountTokens},
                                              {"generate_content", GeminiConfig::Call::kGenerateContent}});
  c.ca_file = config.String("ca_file", "");
  return std::make_unique<GeminiCollector>(std::move(c));
}

GeminiCollector::GeminiCollector(GeminiConfig config) : config_(std::move(config)) {}

ProbeResponse GeminiCollector::Request(const std::string& method, const std::string& path,
                                       const std::optional<std::string>& body, const ProbeContext& ctx) const {
  ProbeRequest req;
  req.method = method;
  req.url = config_.base_url + "/" + config_.api_version + path;
  req.headers.emplace_back("x-goog-api-key: " + config_.api_key.reveal());
  if (body) req.headers.emplace_back("Content-Type: application/json");
  req.body = body;
  req.ca_file = config_.ca_file;
  req.max_body_bytes = 256 << 10;
  return PerformHttp(req, ctx.Remaining());
}

ProbeResult GeminiCollector::Collect(const ProbeContext& ctx) {
  FamilyBuilder fb;
  std::optional<ProbeResult> failure;
  std::vector<std::string> exhausted;
  double retry_delay = 0;
  bool answered = false;

  // Returns true if the call answered 2xx.
  auto call = [&](const char* name, const std::string& method, const std::string& path,
                  const std::optional<std::string>& body, long* status_out) {
    ProbeResponse resp = Request(method, path, body, ctx);
    fb.Gauge("botwatch_gemini_latency_seconds", "Duration of the last Gemini API call of each kind.",
             resp.total_seconds, {{"call", name}});
    *status_out = resp.ok() ? resp.status : 0;
    if (!resp.ok()) {
      failure = ProbeResult::Down(ReasonForCurlCode(resp.curl_code),
                                  RedactSecrets(std::string(name) + ": " + resp.curl_error, {&config_.api_key}));
      return false;
    }
    answered = true;
    std::string cls = StatusClass(resp.status);
    for (const char* c : kStatusClasses) {
      fb.Gauge("botwatch_gemini_http_status_class",
               "1 for the status class of the last response of each call kind, 0 for the others.", cls == c ? 1 : 0,
               {{"call", name}, {"class", c}});
    }
    if (resp.status >= 200 && resp.status <= 299) return true;
    std::optional<GoogleRpcError> err = ParseGoogleRpcError(resp.body);
    const char* why = ReasonForGeminiError(resp.status, err);
    std::string msg = std::string(name) + ": HTTP " + std::to_string(resp.status);
    if (err) {
      if (!err->status.empty()) msg += " " + err->status;
      if (!err->message.empty()) msg += ": " + QuotePeer(err->message, {&config_.api_key});
      if (why == gemini_reason::kQuotaExhausted) {
        exhausted = err->quota_kinds.empty() ? std::vector<std::string>{"other"} : err->quota_kinds;
      }
      if (err->retry_delay_seconds) retry_delay = *err->retry_delay_seconds;
    } else if (why == gemini_reason::kQuotaExhausted) {
      exhausted = {"other"};
    }
    if (!failure) failure = ProbeResult::Down(why, RedactSecrets(msg, {&config_.api_key}));
    return false;
  };

  long status = 0;
  bool model_ok = call("get_model", "GET", "/models/" + config_.model, std::nullopt, &status);
  if (status == 200 || status == 404) {
    fb.Gauge("botwatch_gemini_model_available", "1 if the configured model exists (0 when the API answers 404).",
             status == 200 ? 1 : 0);
  }
  if (model_ok && config_.call != GeminiConfig::Call::kNone) {
    if (config_.call == GeminiConfig::Call::kCountTokens) {
      call("count_tokens", "POST", "/models/" + config_.model + ":countTokens",
           std::string(R"({"contents":[{"parts":[{"text":"ping"}]}]})"), &status);
    } else {
      call("generate_content", "POST", "/models/" + config_.model + ":generateContent",
           std::string(R"({"contents":[{"parts":[{"text":"Reply with OK."}]}],)"
                       R"("generationConfig":{"maxOutputTokens":1}})"),
           &status);
    }
  }
  if (answered) {
    for (const char* kind : kQuotaKinds) {
      bool hit = std::find(exhausted.begin(), exhausted.end(), kind) != exhausted.end();
      fb.Gauge("botwatch_gemini_quota_exhausted", "1 if the last answer reported this kind of quota exhausted.",
               hit ? 1 : 0, {{"quota", kind}});
    }
    fb.Gauge("botwatch_gemini_retry_delay_seconds", "RetryInfo.retryDelay of the last error (0 when none).",
             retry_delay);
  }
  ProbeResult r = failure ? std::move(*failure) : ProbeResult::Up();
  r.families = fb.Take();
  return r;
}

}  // namespace botwatch
