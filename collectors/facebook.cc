#include "collectors/facebook.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <chrono>

#include "base/config_node.h"
#include "collectors/lib/json_fields.h"
#include "collectors/registry.h"

namespace botwatch {

// Graph API calls count against the app's rate limits: probe every 5 minutes
// unless the config says otherwise.
BOTWATCH_REGISTER_COLLECTOR_WITH_INTERVAL("facebook", FacebookCollector::Create, std::chrono::minutes(5));

namespace {

const char* const kUsageKinds[] = {"call_count", "total_time", "total_cputime"};

// Merges the percentage fields of one usage object into ratios (max wins).
void MergeUsage(const Json& obj, std::map<std::string, double>* out, double* regain_seconds) {
  if (!obj.is_object()) return;
  for (const char* kind : kUsageKinds) {
    double pct = JsonNumber(obj, kind, -1);
    if (pct < 0) continue;
    double& slot = (*out)[kind];
    slot = std::max(slot, pct / 100.0);
  }
  // Documented in minutes.
  double minutes = JsonNumber(obj, "estimated_time_to_regain_access", 0);
  if (minutes > 0) *regain_seconds = std::max(*regain_seconds, minutes * 60);
}

bool IsRateLimitCode(int code) {
  return code == 4 || code == 17 || code == 32 || code == 613 || (code >= 80000 && code <= 80014);
}

// One gauge per wanted item, 1 if `have` lists it; returns the missing ones
// joined by ", " ("" when none is).
std::string GaugeEach(FamilyBuilder* fb, const char* name, const char* help, const char* label,
                      const std::vector<std::string>& wanted, const std::vector<std::string>& have) {
  std::string missing;
  for (const std::string& item : wanted) {
    bool found = std::find(have.begin(), have.end(), item) != have.end();
    fb->Gauge(name, help, found ? 1 : 0, {{label, item}});
    if (!found) missing += (missing.empty() ? "" : ", ") + item;
  }
  return missing;
}

}  // namespace

std::optional<GraphError> ParseGraphError(const std::string& body) {
  Json j = ParseJsonLenient(body);
  if (!j.is_object()) return std::nullopt;
  auto it = j.find("error");
  if (it == j.end() || !it->is_object()) return std::nullopt;
  GraphError e;
  e.code = static_cast<int>(JsonNumber(*it, "code", 0));
  e.subcode = static_cast<int>(JsonNumber(*it, "error_subcode", 0));
  e.message = JsonString(*it, "message");
  e.type = JsonString(*it, "type");
  return e;
}

const char* ReasonForGraphError(const std::optional<GraphError>& error, long http_status) {
  if (error) {
    if (error->code == 190 || error->code == 102) {
      return error->subcode == 463 ? facebook_reason::kTokenExpired : facebook_reason::kTokenInvalid;
    }
    if (error->code == 10 || (error->code >= 200 && error->code <= 299)) return facebook_reason::kPermission;
    if (IsRateLimitCode(error->code)) return facebook_reason::kRateLimited;
    if (error->code == 1 || error->code == 2) return facebook_reason::kServerError;  // unknown/service errors
  }
  if (http_status >= 500) return facebook_reason::kServerError;
  if (http_status == 429) return facebook_reason::kRateLimited;
  return facebook_reason::kApiError;
}

void ParseUsageHeaders(const ProbeResponse& response, GraphUsage* usage) {
  if (const std::string& h = response.Header("x-app-usage"); !h.empty()) {
    MergeUsage(ParseJsonLenient(h), &usage->app, &usage->regain_access_seconds);
  }
  if (const std::string& h = response.Header("x-page-usage"); !h.empty()) {
    MergeUsage(ParseJsonLenient(h), &usage->page, &usage->regain_access_seconds);
  }
  if (const std::string& h = response.Header("x-business-use-case-usage"); !h.empty()) {
    // {"<business object id>": [{"type": "pages", "call_count": 100, ...}, ...], ...}
    Json j = ParseJsonLenient(h);
    if (j.is_object()) {
      for (const auto& [id, entries] : j.items()) {
        if (!entries.is_array()) continue;
        for (const Json& e : entries) MergeUsage(e, &usage->business, &usage->regain_access_seconds);
      }
    }
  }
}

std::string AppSecretProof(const std::string& token, const std::string& app_secret) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), app_secret.data(), static_cast<int>(app_secret.size()),
       reinterpret_cast<const unsigned char*>(token.data()), token.size(), mac, &len);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[mac[i] >> 4];
    out += kHex[mac[i] & 15];
  }
  return out;
}

std::unique_ptr<Collector> FacebookCollector::Create(const CollectorSpec&, ConfigMap& config) {
  FacebookConfig c;
  c.base_url = ConfigBaseUrl(config, c.base_url);
  c.api_version = config.String("api_version", c.api_version);
  if (c.api_version.size() < 2 || c.api_version[0] != 'v' ||
      c.api_version.find_first_not_of("0123456789.", 1) != std::string::npos) {
    config.FailAt("api_version", "expected a Graph API version such as \"v21.0\", got \"" + c.api_version + "\"");
  }
  c.page_token = config.RequiredSecret("page_token");
  c.app_id = config.RequiredString("app_id");
  if (c.app_id.empty() || c.app_id.find_first_not_of("0123456789") != std::string::npos) {
    config.FailAt("app_id", "must be the numeric app id");
  }
  c.app_secret = config.RequiredSecret("app_secret");
  c.page_id = config.String("page_id", "");
  if (c.page_id.find_first_not_of("0123456789") != std::string::npos) {
    config.FailAt("page_id", "must be the numeric page id");
  }
  c.required_scopes = config.StringList("required_scopes");
  c.check_webhook = config.Bool("check_webhook", true);
  bool fields_set = config.Has("webhook_fields");
  std::vector<std::string> fields = config.StringList("webhook_fields");
  if (fields_set) {
    if (fields.empty()) config.FailAt("webhook_fields", "must not be empty (set check_webhook: false instead)");
    c.webhook_fields = std::move(fields);
  }
  if (c.webhook_fields.size() > 32) config.FailAt("webhook_fields", "at most 32 fields");
  if (c.required_scopes.size() > 32) config.FailAt("required_scopes", "at most 32 scopes");
  c.ca_file = config.String("ca_file", "");
  return std::make_unique<FacebookCollector>(std::move(c));
}

FacebookCollector::FacebookCollector(FacebookConfig config)
    : config_(std::move(config)), app_token_(config_.app_id + "|" + config_.app_secret.reveal()) {}

std::vector<const Secret*> FacebookCollector::Secrets() const {
  return {&config_.page_token, &config_.app_secret, &app_token_};
}

ProbeResponse FacebookCollector::Get(const std::string& path_and_query, const Secret& token,
                                     const ProbeContext& ctx) const {
  ProbeRequest req;
  std::string sep = path_and_query.find('?') == std::string::npos ? "?" : "&";
  req.url = config_.base_url + "/" + config_.api_version + path_and_query + sep +
            "appsecret_proof=" + AppSecretProof(token.reveal(), config_.app_secret.reveal());
  req.headers.emplace_back("Authorization: Bearer " + token.reveal());
  req.ca_file = config_.ca_file;
  req.max_body_bytes = 256 << 10;
  return PerformHttp(req, ctx.Remaining());
}

// One probe, call by call. The first problem found decides the reason; a
// transport failure ends the probe, an API error is recorded and the next call
// still runs. Every call adds its latency and usage headers to the families.
class FacebookCollector::Probe {
 public:
  Probe(const FacebookCollector& collector, const ProbeContext& ctx) : collector_(collector), ctx_(ctx) {}

  // 1. The page token itself, inspected with the app token. False when a
  // transport failure ends the probe.
  bool InspectPageToken() {
    const FacebookConfig& config = collector_.config_;
    std::optional<Json> dt =
        Call("debug_token", "/debug_token?input_token=" + UrlEncode(config.page_token.reveal()), collector_.app_token_);
    if (!dt) return false;
    if (!dt->is_object()) return true;
    auto data_it = dt->find("data");
    const Json data = data_it == dt->end() ? Json() : *data_it;
    if (!data.is_object()) {
      Fail(reason::kProtocol, "debug_token: response has no \"data\" object");
    } else {
      ReadTokenData(data);
    }
    return true;
  }

  // 2. Reachability and latency with the page token; also tells the page id
  // ("" when neither the config nor /me names one). nullopt when a transport
  // failure ends the probe.
  std::optional<std::string> FindPageId() {
    const FacebookConfig& config = collector_.config_;
    std::optional<Json> me = Call("me", "/me?fields=id", config.page_token);
    if (!me) return std::nullopt;
    std::string page_id = config.page_id;
    if (page_id.empty()) {
      page_id = JsonString(*me, "id");
      if (page_id.find_first_not_of("0123456789") != std::string::npos) page_id.clear();
    }
    return page_id;
  }

  // 3. The page's webhook subscription for this app.
  void CheckWebhook(const std::string& page_id) {
    const FacebookConfig& config = collector_.config_;
    std::optional<Json> subs = Call("subscribed_apps", "/" + page_id + "/subscribed_apps", config.page_token);
    if (!subs || !subs->is_object()) return;
    std::vector<std::string> fields;
    bool app_listed = false;
    if (auto d = subs->find("data"); d != subs->end() && d->is_array()) {
      for (const Json& app : *d) {
        if (!app.is_object() || JsonString(app, "id") != config.app_id) continue;
        app_listed = true;
        for (std::string& f : JsonStrings(app, "subscribed_fields")) fields.push_back(std::move(f));
      }
    }
    std::string missing = GaugeEach(&fb_, "botwatch_facebook_webhook_subscribed",
                                    "1 if the page is subscribed to this webhook field for the app.", "field",
                                    config.webhook_fields, fields);
    if (!missing.empty()) {
      Fail(facebook_reason::kWebhookUnsubscribed,
           std::string("subscribed_apps: ") +
               (app_listed ? "page not subscribed to: " : "app not subscribed to the page; missing: ") + missing);
    }
  }

  // The usage families, then the result: up unless a problem was found.
  ProbeResult Finish() {
    fb_.Gauge("botwatch_facebook_estimated_time_to_regain_access_seconds",
              "Graph API's estimate of the time until throttled calls succeed again (0 when not throttled).",
              usage_.regain_access_seconds);
    for (const auto& [kind, ratio] : usage_.app) {
      fb_.Gauge("botwatch_facebook_app_usage_ratio", "App rate-limit usage from X-App-Usage (1 = 100 %).", ratio,
                {{"kind", kind}});
    }
    for (const auto& [kind, ratio] : usage_.page) {
      fb_.Gauge("botwatch_facebook_page_usage_ratio", "Page rate-limit usage from X-Page-Usage (1 = 100 %).", ratio,
                {{"kind", kind}});
    }
    for (const auto& [kind, ratio] : usage_.business) {
      fb_.Gauge("botwatch_facebook_business_use_case_usage_ratio",
                "Highest business use case rate-limit usage from X-Business-Use-Case-Usage (1 = 100 %).", ratio,
                {{"kind", kind}});
    }
    ProbeResult r = failure_ ? std::move(*failure_) : ProbeResult::Up();
    r.families = fb_.Take();
    return r;
  }

 private:
  // One Graph API call: the parsed body when it succeeded, null when it failed
  // with an API error (recorded), nullopt after a transport failure.
  std::optional<Json> Call(const char* name, const std::string& path, const Secret& token) {
    ProbeResponse resp = collector_.Get(path, token, ctx_);
    fb_.Gauge("botwatch_facebook_latency_seconds", "Duration of the last Graph API call of each kind.",
              resp.total_seconds, {{"call", name}});
    if (!resp.ok()) {
      Fail(ReasonForCurlCode(resp.curl_code), std::string(name) + ": " + resp.curl_error);
      return std::nullopt;
    }
    ParseUsageHeaders(resp, &usage_);
    std::optional<GraphError> err = ParseGraphError(resp.body);
    if (err || resp.status < 200 || resp.status > 299) {
      std::string msg = std::string(name) + ": HTTP " + std::to_string(resp.status);
      if (err) {
        msg += ", Graph error " + std::to_string(err->code);
        if (err->subcode) msg += "/" + std::to_string(err->subcode);
        if (!err->message.empty()) msg += ": " + QuotePeer(err->message, collector_.Secrets());
      }
      Fail(ReasonForGraphError(err, resp.status), msg);
      return Json();
    }
    Json j = ParseJsonLenient(resp.body);
    if (!j.is_object()) Fail(reason::kProtocol, std::string(name) + ": response is not a JSON object");
    return j;
  }

  // debug_token's "data": validity, expiry and scopes of the page token.
  void ReadTokenData(const Json& data) {
    bool valid = JsonBool(data, "is_valid", false);
    double expires_at = JsonNumber(data, "expires_at", 0);
    fb_.Gauge("botwatch_facebook_token_valid", "1 if debug_token reports the page token valid.", valid ? 1 : 0);
    fb_.Gauge("botwatch_facebook_token_expiry_timestamp_seconds", "When the page token expires (Unix time; 0 = never).",
              expires_at);
    fb_.Gauge("botwatch_facebook_token_data_access_expiry_timestamp_seconds",
              "When the page token's data access expires (Unix time; 0 = never).",
              JsonNumber(data, "data_access_expires_at", 0));
    std::string missing =
        GaugeEach(&fb_, "botwatch_facebook_token_scope_granted", "1 if the page token has this required scope.",
                  "scope", collector_.config_.required_scopes, JsonStrings(data, "scopes"));
    fb_.Gauge("botwatch_facebook_token_scopes_ok", "1 if the page token has every required scope.",
              missing.empty() ? 1 : 0);
    if (!valid) {
      FailInvalidToken(data, expires_at);
    } else if (!missing.empty()) {
      Fail(facebook_reason::kMissingScope, "debug_token: page token lacks required scope(s): " + missing);
    }
  }

  // An invalid page token: expired (by debug_token's subcode or its expiry
  // time) or invalid, with debug_token's own message.
  void FailInvalidToken(const Json& data, double expires_at) {
    std::optional<GraphError> inner;
    if (auto e = data.find("error"); e != data.end() && e->is_object()) {
      GraphError g;
      g.code = static_cast<int>(JsonNumber(*e, "code", 190));
      g.subcode = static_cast<int>(JsonNumber(*e, "subcode", 0));
      g.message = JsonString(*e, "message");
      inner = g;
    }
    double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    bool expired = (inner && inner->subcode == 463) || (expires_at > 0 && expires_at <= now);
    Fail(expired ? facebook_reason::kTokenExpired : facebook_reason::kTokenInvalid,
         std::string("debug_token: page token ") + (expired ? "expired" : "invalid") +
             (inner && !inner->message.empty() ? ": " + QuotePeer(inner->message, collector_.Secrets()) : ""));
  }

  void Fail(const char* why, const std::string& message) {
    if (!failure_) failure_ = ProbeResult::Down(why, RedactSecrets(message, collector_.Secrets()));
  }

  const FacebookCollector& collector_;
  const ProbeContext& ctx_;
  FamilyBuilder fb_;
  GraphUsage usage_;
  std::optional<ProbeResult> failure_;  // the first problem found decides the reason
};

ProbeResult FacebookCollector::Collect(const ProbeContext& ctx) {
  Probe probe(*this, ctx);
  if (!probe.InspectPageToken()) return probe.Finish();
  std::optional<std::string> page_id = probe.FindPageId();
  if (!page_id) return probe.Finish();
  if (config_.check_webhook && !page_id->empty()) probe.CheckWebhook(*page_id);
  return probe.Finish();
}

}  // namespace botwatch
