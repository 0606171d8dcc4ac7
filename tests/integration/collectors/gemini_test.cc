// The gemini collector against a loopback stand-in of the Generative Language
// API answering with its documented shapes: the Model resource, and
// google.rpc errors with QuotaFailure, RetryInfo and ErrorInfo details.

#include <catch2/catch.hpp>
#include <mutex>

#include "tests/support/botwatch_process.h"
#include "tests/support/http_client.h"
#include "tests/support/loopback_server.h"
#include "tests/support/probe_helpers.h"
#include "tests/support/temp_dir.h"
#include "tests/support/time_scale.h"

using namespace botwatch;
using namespace botwatch::testing;
using namespace std::chrono_literals;

namespace {

const char* const kApiKey = "AIzaSy-test-KEY-0123456789";

const char* const kModel =
    R"({"name":"models/gemini-2.0-flash","version":"2.0","displayName":"Gemini 2.0 Flash",)"
    R"("description":"Gemini 2.0 Flash","inputTokenLimit":1048576,"outputTokenLimit":8192,)"
    R"("supportedGenerationMethods":["generateContent","countTokens"],"temperature":1,"topP":0.95,"topK":40})";

std::string QuotaError(const std::string& quota_metric, const std::string& quota_id, const std::string& delay) {
  return R"({"error":{"code":429,"message":"You exceeded your current quota, please check your plan and billing details.",)"
         R"("status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure",)"
         R"("violations":[{"quotaMetric":")" +
         quota_metric + R"(","quotaId":")" + quota_id +
         R"(","quotaDimensions":{"location":"global","model":"gemini-2.0-flash"},"quotaValue":"15"}]},)"
         R"({"@type":"type.googleapis.com/google.rpc.Help","links":[{"description":"Learn more about Gemini API quotas",)"
         R"("url":"https://ai.google.dev/gemini-api/docs/rate-limits"}]},)"
         R"({"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":")" +
         delay + R"("}]}})";
}

// Records what each request carried; answers from a replaceable handler.
class FakeGemini {
 public:
  using Handler = std::function<StubResponse(const StubRequest&)>;
  FakeGemini() : server_([this](const StubRequest& req) { return Handle(req); }) {
    handler = [](const StubRequest& req) {
      if (req.method == "GET") return JsonReply(200, kModel);
      return JsonReply(200, R"({"totalTokens":1,"promptTokensDetails":[{"modality":"TEXT","tokenCount":1}]})");
    };
  }
  std::string Item(const std::string& extra = "") const {
    return "{name: ai, type: gemini, base_url: '" + server_.Url() + "', api_key: " + kApiKey +
           ", model: gemini-2.0-flash" + extra + "}";
  }
  std::vector<StubRequest> Requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  LoopbackServer& server() { return server_; }
  Handler handler;

 private:
  StubResponse Handle(const StubRequest& req) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(req);
    }
    return handler(req);
  }
  std::mutex mu_;
  std::vector<StubRequest> requests_;
  LoopbackServer server_;
};

double Exhausted(const ProbeResult& r, const char* quota) {
  return SampleOf(r, "botwatch_gemini_quota_exhausted", {{"quota", quota}}).value_or(-1);
}

}  // namespace

TEST_CASE("gemini: an existing model is up, the key travels only in x-goog-api-key") {
  FakeGemini api;
  ProbeResult r = BuildCollector(api.Item()).Probe();
  INFO(r.message);
  CHECK(r.up);
  CHECK(SampleOf(r, "botwatch_gemini_model_available") == 1.0);
  CHECK(SampleOf(r, "botwatch_gemini_http_status_class", {{"call", "get_model"}, {"class", "2xx"}}) == 1.0);
  CHECK(SampleOf(r, "botwatch_gemini_http_status_class", {{"call", "get_model"}, {"class", "4xx"}}) == 0.0);
  auto latency = SampleOf(r, "botwatch_gemini_latency_seconds", {{"call", "get_model"}});
  REQUIRE(latency);
  CHECK(*latency > 0);
  for (const char* q : {"per_minute", "per_day", "tokens", "other"}) CHECK(Exhausted(r, q) == 0.0);
  CHECK(SampleOf(r, "botwatch_gemini_retry_delay_seconds") == 0.0);
  auto requests = api.Requests();
  REQUIRE(requests.size() == 1);  // the generate/countTokens call is off by default
  CHECK(requests[0].method == "GET");
  CHECK(requests[0].target == "/v1beta/models/gemini-2.0-flash");
  CHECK(requests[0].Header("x-goog-api-key") == kApiKey);
  CHECK(Dump(r).find(kApiKey) == std::string::npos);
}

TEST_CASE("gemini: the optional countTokens and generateContent calls are measured") {
  FakeGemini api;
  SECTION("count_tokens") {
    ProbeResult r = BuildCollector(api.Item(", call: count_tokens")).Probe();
    CHECK(r.up);
    CHECK(SampleOf(r, "botwatch_gemini_latency_seconds", {{"call", "count_tokens"}}));
    auto requests = api.Requests();
    REQUIRE(requests.size() == 2);
    CHECK(requests[1].method == "POST");
    CHECK(requests[1].target == "/v1beta/models/gemini-2.0-flash:countTokens");
    CHECK(requests[1].Header("Content-Type") == "application/json");
    CHECK(requests[1].body.find("\"contents\"") != std::string::npos);
  }
  SECTION("generate_content, answered with an exhausted token quota") {
    api.handler = [](const StubRequest& req) {
      if (req.method == "GET") return JsonReply(200, kModel);
      return JsonReply(429, QuotaError("generativelanguage.googleapis.com/generate_content_free_tier_input_token_count",
                                       "GenerateContentInputTokensPerModelPerMinute-FreeTier", "12.5s"));
    };
    ProbeResult r = BuildCollector(api.Item(", call: generate_content")).Probe();
    CHECK_FALSE(r.up);
    CHECK(r.reason == "quota_exhausted");
    CHECK(r.message.find("generate_content: HTTP 429 RESOURCE_EXHAUSTED") == 0);
    CHECK(Exhausted(r, "tokens") == 1.0);
    CHECK(Exhausted(r, "per_minute") == 0.0);
    CHECK(SampleOf(r, "botwatch_gemini_retry_delay_seconds") == 12.5);
    CHECK(SampleOf(r, "botwatch_gemini_model_available") == 1.0);
    CHECK(SampleOf(r, "botwatch_gemini_http_status_class", {{"call", "generate_content"}, {"class", "4xx"}}) == 1.0);
    auto requests = api.Requests();
    REQUIRE(requests.size() == 2);
    CHECK(requests[1].target == "/v1beta/models/gemini-2.0-flash:generateContent");
  }
}

TEST_CASE("gemini: 429 RESOURCE_EXHAUSTED is classified by its QuotaFailure quota id") {
  FakeGemini api;
  std::string metric = "generativelanguage.googleapis.com/generate_content_free_tier_requests";
  std::string quota_id, expect;
  SECTION("requests per minute") {
    quota_id = "GenerateRequestsPerMinutePerProjectPerModel-FreeTier";
    expect = "per_minute";
  }
  SECTION("requests per day") {
    quota_id = "GenerateRequestsPerDayPerProjectPerModel-FreeTier";
    expect = "per_day";
  }
  SECTION("input tokens per minute") {
    quota_id = "GenerateContentInputTokensPerModelPerMinute-FreeTier";
    metric = "generativelanguage.googleapis.com/generate_content_free_tier_input_token_count";
    expect = "tokens";
  }
  api.handler = [&](const StubRequest&) { return JsonReply(429, QuotaError(metric, quota_id, "37s")); };
  ProbeResult r = BuildCollector(api.Item()).Probe();
  CHECK_FALSE(r.up);
  CHECK(r.reason == "quota_exhausted");
  for (const char* q : {"per_minute", "per_day", "tokens", "other"}) {
    INFO(q);
    CHECK(Exhausted(r, q) == (q == expect ? 1.0 : 0.0));
  }
  CHECK(SampleOf(r, "botwatch_gemini_retry_delay_seconds") == 37.0);
  CHECK(SampleOf(r, "botwatch_gemini_http_status_class", {{"call", "get_model"}, {"class", "4xx"}}) == 1.0);
  CHECK_FALSE(SampleOf(r, "botwatch_gemini_model_available"));  // unknown while throttled
}

TEST_CASE("gemini: a 429 without details still counts as quota_exhausted") {
  FakeGemini api;
  api.handler = [](const StubRequest&) { return JsonReply(429, "Too Many Requests"); };
  ProbeResult r = BuildCollector(api.Item()).Probe();
  CHECK(r.reason == "quota_exhausted");
  CHECK(Exhausted(r, "other") == 1.0);
  CHECK(SampleOf(r, "botwatch_gemini_retry_delay_seconds") == 0.0);
}

TEST_CASE("gemini: a missing model is down with reason model_not_found") {
  FakeGemini api;
  api.handler = [](const StubRequest&) {
    return JsonReply(404,
                     R"({"error":{"code":404,"message":"models/gemini-2.0-flash is not found for API version v1beta, )"
                     R"(or is not supported for generateContent. Call ListModels to see the list of available )"
                     R"(models and their supported methods.","status":"NOT_FOUND"}})");
  };
  ProbeResult r = BuildCollector(api.Item()).Probe();
  CHECK_FALSE(r.up);
  CHECK(r.reason == "model_not_found");
  CHECK(r.message.find("NOT_FOUND: models/gemini-2.0-flash is not found") != std::string::npos);
  CHECK(SampleOf(r, "botwatch_gemini_model_available") == 0.0);
}

TEST_CASE("gemini: a rejected key is down with reason auth") {
  FakeGemini api;
  SECTION("400 API_KEY_INVALID") {
    api.handler = [](const StubRequest&) {
      return JsonReply(400,
                       R"({"error":{"code":400,"message":"API key not valid. Please pass a valid API key.",)"
                       R"("status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo",)"
                       R"("reason":"API_KEY_INVALID","domain":"googleapis.com","metadata":{"service":)"
                       R"("generativelanguage.googleapis.com"}}]}})");
    };
  }
  SECTION("403 PERMISSION_DENIED") {
    api.handler = [](const StubRequest&) {
      return JsonReply(403,
                       R"({"error":{"code":403,"message":"Method doesn't allow unregistered callers (callers without )"
                       R"(established identity). Please use API Key or other form of API consumer identity to call )"
                       R"(this API.","status":"PERMISSION_DENIED"}})");
    };
  }
  SECTION("401 UNAUTHENTICATED") {
    api.handler = [](const StubRequest&) {
      return JsonReply(401, R"({"error":{"code":401,"message":"Request had invalid authentication credentials.",)"
                            R"("status":"UNAUTHENTICATED"}})");
    };
  }
  ProbeResult r = BuildCollector(api.Item()).Probe();
  CHECK_FALSE(r.up);
  CHECK(r.reason == "auth");
}

TEST_CASE("gemini: a 503 is down with reason server_error") {
  FakeGemini api;
  api.handler = [](const StubRequest&) {
    return JsonReply(503, R"({"error":{"code":503,"message":"The model is overloaded. Please try again later.",)"
                          R"("status":"UNAVAILABLE"}})");
  };
  ProbeResult r = BuildCollector(api.Item()).Probe();
  CHECK(r.reason == "server_error");
  CHECK(SampleOf(r, "botwatch_gemini_http_status_class", {{"call", "get_model"}, {"class", "5xx"}}) == 1.0);
}

TEST_CASE("gemini: a hung API is down with reason timeout at the deadline") {
  FakeGemini api;
  api.handler = [](const StubRequest&) {
    StubResponse r;
    r.hang = true;
    return r;
  };
  BuiltCollector c = BuildCollector(api.Item());
  auto start = std::chrono::steady_clock::now();
  ProbeResult r = c.Probe(300ms);
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(r.reason == "timeout");
  CHECK(took < TimeBound(300ms, 500ms));  // the deadline, plus a margin for a loaded machine
  CHECK_FALSE(SampleOf(r, "botwatch_gemini_quota_exhausted", {{"quota", "other"}}));
}

TEST_CASE("gemini: nothing listening is down with reason connection_refused") {
  ProbeResult r =
      BuildCollector("{name: ai, type: gemini, base_url: 'http://127.0.0.1:" + std::to_string(UnusedPort()) +
                     "', api_key: k, model: gemini-2.0-flash}")
          .Probe();
  CHECK_FALSE(r.up);
  CHECK(r.reason == "connection_refused");
}

TEST_CASE("gemini: config errors name the field") {
  std::string error;
  CHECK_FALSE(BuildCollector("{name: ai, type: gemini, api_key: k, model: 'bad model'}", &error).collector);
  CHECK(error.find("test.yaml:2:") == 0);
  CHECK(error.find("collectors[0].model: \"bad model\" is not a model name") != std::string::npos);
  CHECK_FALSE(BuildCollector("{name: ai, type: gemini, api_key: k, model: m, call: chat}", &error).collector);
  CHECK(error.find("unknown call \"chat\"") != std::string::npos);
  CHECK_FALSE(BuildCollector("{name: ai, type: gemini, model: m}", &error).collector);
  CHECK(error.find("api_key") != std::string::npos);
  BuiltCollector ok = BuildCollector("{name: ai, type: gemini, api_key: k, model: models/gemini-2.0-flash}", &error);
  CHECK(ok.collector);
}

TEST_CASE("gemini: the API key never reaches /metrics, /api/v1/status or the log") {
  FakeGemini api;
  std::string quoted;  // what /api/v1/status shows of the peer's message
  SECTION("an error message quoting the key back is redacted") {
    api.handler = [](const StubRequest&) {
      return JsonReply(
          400, std::string(R"({"error":{"code":400,"message":"API key not valid: )") + kApiKey +
                   R"(","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo",)"
                   R"("reason":"API_KEY_INVALID","domain":"googleapis.com"}]}})");
    };
    quoted = "API key not valid: <secret>";
  }
  SECTION("a key straddling the message's 200-byte cut leaves no piece behind") {
    // Issue 13 item 3: the message used to be cut before it was redacted, so
    // the key's first bytes (before byte 200) survived.
    const std::string filler(190, 'm');
    api.handler = [filler](const StubRequest&) {
      return JsonReply(400, R"({"error":{"code":400,"message":")" + filler + kApiKey +
                                R"( was rejected","status":"INVALID_ARGUMENT","details":[{"@type":)"
                                R"("type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID"}]}})");
    };
    quoted = filler + "<secret>";
    ProbeResult direct = BuildCollector(api.Item()).Probe();
    CHECK(direct.reason == "auth");
    INFO(direct.message);
    CHECK(direct.message.find(quoted) != std::string::npos);
    CHECK(PieceOfSecretIn(Dump(direct), kApiKey) == "");
  }
  TempDir dir;
  std::string config = dir.Write(
      "botwatch.yaml", "collectors:\n  - {name: ai, type: gemini, interval: 500ms, base_url: '" + api.server().Url() +
                           "', api_key: '${GEMINI_TEST_KEY}', model: gemini-2.0-flash}\n");
  ::setenv("GEMINI_TEST_KEY", kApiKey, 1);
  Botwatch bw(config, dir.path(), {"--log.level=debug"});
  REQUIRE(bw.WaitReady());
  const int before = api.server().requests();
  REQUIRE(Eventually([&] { return api.server().requests() >= before + 2; }, 10s));
  HttpResult metrics = HttpGet(bw.Url("/metrics"));
  HttpResult status = HttpGet(bw.Url("/api/v1/status"));
  CHECK(metrics.body.find("reason=\"auth\"") != std::string::npos);
  CHECK(status.body.find(quoted) != std::string::npos);
  std::string log = bw.process().Log();
  for (const std::string& text : {metrics.body, status.body, log}) CHECK(PieceOfSecretIn(text, kApiKey) == "");
  CommandResult lint = RunCommand({"promtool", "check", "metrics"}, metrics.body);
  INFO(lint.output);
  CHECK(lint.exit_code == 0);
}
