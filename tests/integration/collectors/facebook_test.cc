// The facebook collector against a loopback Graph API stand-in that answers
// with the documented shapes of debug_token, /me, subscribed_apps, the Graph
// error object and the rate-limit usage headers.

#include <catch2/catch.hpp>
#include <mutex>
#include <nlohmann/json.hpp>

#include "collectors/facebook.h"
#include "tests/support/botwatch_process.h"
#include "tests/support/http_client.h"
#include "tests/support/loopback_server.h"
#include "tests/support/probe_helpers.h"
#include "tests/support/temp_dir.h"

using namespace botwatch;
using namespace botwatch::testing;
using namespace std::chrono_literals;

namespace {

const char* const kPageToken = "EAAG-page-token-SECRET-123";
const char* const kAppSecret = "app-secret-XYZ-987";
const char* const kAppId = "4242";
const char* const kPageId = "1234567890";
// openssl dgst -sha256 -hmac app-secret-XYZ-987 of the page token and of "4242|app-secret-XYZ-987".
const char* const kPageProof = "2579c647d7f826abc34441724f96573903f49bafe3fe5824ad623df9942e058f";
const char* const kAppProof = "e855cb0e1131cc8be583f5d5efa87bf912de4c2a99a0149b79e7200ae6374fa1";

StubResponse GraphErrorReply(int status, int code, const std::string& message, int subcode = 0) {
  nlohmann::json e = {{"message", message}, {"type", "OAuthException"}, {"code", code}, {"fbtrace_id", "AZtrace01"}};
  if (subcode) e["error_subcode"] = subcode;
  return JsonReply(status, nlohmann::json{{"error", e}}.dump());
}

std::string ValidDebugToken(
    const std::string& scopes = R"(["pages_messaging","pages_show_list","pages_manage_metadata"])") {
  return R"({"data":{"app_id":"4242","type":"PAGE","application":"Bot App","data_access_expires_at":1800000000,)"
         R"("expires_at":0,"is_valid":true,"issued_at":1700000000,"profile_id":"1234567890","scopes":)" +
         scopes + R"(,"user_id":"99"}})";
}

// A Graph API stand-in: each endpoint answers from a replaceable handler, and
// every request is checked for credentials in the right places.
class FakeGraph {
 public:
  using Endpoint = std::function<StubResponse()>;
  FakeGraph() : server_([this](const StubRequest& req) { return Handle(req); }) {
    debug_token = [] { return JsonReply(200, ValidDebugToken()); };
    me = [] { return JsonReply(200, R"({"id":"1234567890"})"); };
    subscribed_apps = [] {
      return JsonReply(200,
                       R"({"data":[{"category":"Business","link":"https://example.com/","name":"Other App","id":"77",)"
                       R"("subscribed_fields":["feed"]},{"category":"Business","link":"https://example.com/",)"
                       R"("name":"Bot App","id":"4242","subscribed_fields":["messages","messaging_postbacks",)"
                       R"("message_reads"]}]})");
    };
  }

  std::string Item(const std::string& extra = "") const {
    return std::string("{name: fb, type: facebook, base_url: '") + server_.Url() + "', page_token: " + kPageToken +
           ", app_id: '" + kAppId + "', app_secret: " + kAppSecret + ", required_scopes: [pages_messaging]" + extra +
           "}";
  }
  std::vector<std::string> Problems() {
    std::lock_guard<std::mutex> lock(mu_);
    return problems_;
  }
  std::vector<std::string> Paths() {
    std::lock_guard<std::mutex> lock(mu_);
    return paths_;
  }
  LoopbackServer& server() { return server_; }

  Endpoint debug_token, me, subscribed_apps;

 private:
  StubResponse Handle(const StubRequest& req) {
    std::string path = req.target.substr(0, req.target.find('?'));
    std::string query = req.target.find('?') == std::string::npos ? "" : req.target.substr(req.target.find('?') + 1);
    std::string auth = req.Header("Authorization");
    Endpoint handler;
    {
      std::lock_guard<std::mutex> lock(mu_);
      paths_.push_back(path);
      auto expect = [&](bool ok, const std::string& what) {
        if (!ok) problems_.push_back(path + ": " + what);
      };
      if (path == "/v21.0/debug_token") {
        expect(auth == std::string("Bearer ") + kAppId + "|" + kAppSecret, "app token not in Authorization");
        expect(query.find(std::string("input_token=") + kPageToken) != std::string::npos, "no input_token");
        expect(query.find(std::string("appsecret_proof=") + kAppProof) != std::string::npos, "bad appsecret_proof");
        handler = debug_token;
      } else {
        expect(auth == std::string("Bearer ") + kPageToken, "page token not in Authorization");
        expect(query.find(std::string("appsecret_proof=") + kPageProof) != std::string::npos, "bad appsecret_proof");
        expect(req.target.find(kPageToken) == std::string::npos, "page token in the URL");
        if (path == "/v21.0/me") {
          expect(query.find("fields=id") != std::string::npos, "no fields=id");
          handler = me;
        } else if (path == std::string("/v21.0/") + kPageId + "/subscribed_apps") {
          handler = subscribed_apps;
        }
      }
      expect(req.target.find(kAppSecret) == std::string::npos, "app secret in the URL");
    }
    if (!handler) return JsonReply(404, R"({"error":{"message":"Unknown path","type":"OAuthException","code":803}})");
    return handler();
  }

  std::mutex mu_;
  std::vector<std::string> problems_;
  std::vector<std::string> paths_;
  LoopbackServer server_;  // last: stops before the handlers it calls are destroyed
};

void CheckNoSecret(const ProbeResult& r) {
  std::string all = Dump(r);
  CHECK(all.find(kPageToken) == std::string::npos);
  CHECK(all.find(kAppSecret) == std::string::npos);
}

}  // namespace

TEST_CASE("facebook: a valid token, granted scopes and a subscribed page are up") {
  FakeGraph graph;
  BuiltCollector c = BuildCollector(graph.Item());
  REQUIRE(c.collector);
  ProbeResult r = c.Probe();
  INFO(r.message);
  CHECK(r.up);
  CHECK(r.reason == "ok");
  CHECK(SampleOf(r, "botwatch_facebook_token_valid") == 1.0);
  CHECK(SampleOf(r, "botwatch_facebook_token_expiry_timestamp_seconds") == 0.0);
  CHECK(SampleOf(r, "botwatch_facebook_token_data_access_expiry_timestamp_seconds") == 1800000000.0);
  CHECK(SampleOf(r, "botwatch_facebook_token_scopes_ok") == 1.0);
  CHECK(SampleOf(r, "botwatch_facebook_token_scope_granted", {{"scope", "pages_messaging"}}) == 1.0);
  CHECK(SampleOf(r, "botwatch_facebook_webhook_subscribed", {{"field", "messages"}}) == 1.0);
  CHECK(SampleOf(r, "botwatch_facebook_webhook_subscribed", {{"field", "messaging_postbacks"}}) == 1.0);
  CHECK(SampleOf(r, "botwatch_facebook_estimated_time_to_regain_access_seconds") == 0.0);
  for (const char* call : {"debug_token", "me", "subscribed_apps"}) {
    auto latency = SampleOf(r, "botwatch_facebook_latency_seconds", {{"call", call}});
    REQUIRE(latency);
    CHECK(*latency > 0);
    CHECK(*latency < 1);
  }
  // No usage headers in the answers: no usage series either.
  CHECK_FALSE(SampleOf(r, "botwatch_facebook_app_usage_ratio", {{"kind", "call_count"}}));
  CHECK(graph.Problems().empty());
  CHECK(graph.Paths() ==
        std::vector<std::string>{"/v21.0/debug_token", "/v21.0/me", "/v21.0/1234567890/subscribed_apps"});
  CheckNoSecret(r);
}

TEST_CASE("facebook: an expired page token is down with reason token_expired") {
  FakeGraph graph;
  graph.debug_token = [] {
    return JsonReply(
        200, R"({"data":{"app_id":"4242","type":"PAGE","application":"Bot App","data_access_expires_at":1700000000,)"
             R"("error":{"code":190,"message":"Error validating access token: Session has expired on Tuesday, )"
             R"(14-Nov-23 14:00:00 PST. The current time is Wednesday, 15-Nov-23 10:00:00 PST.","subcode":463},)"
             R"("expires_at":1700000000,"is_valid":false,"scopes":["pages_messaging"],"user_id":"99"}})");
  };
  graph.me = [] {
    return GraphErrorReply(400, 190, "Error validating access token: Session has expired on Tuesday, 14-Nov-23.", 463);
  };
  BuiltCollector c = BuildCollector(graph.Item());
  ProbeResult r = c.Probe();
  CHECK_FALSE(r.up);
  CHECK(r.reason == "token_expired");
  CHECK(r.message.find("expired") != std::string::npos);
  CHECK(SampleOf(r, "botwatch_facebook_token_valid") == 0.0);
  CHECK(SampleOf(r, "botwatch_facebook_token_expiry_timestamp_seconds") == 1700000000.0);
  CHECK(graph.Problems().empty());
  CheckNoSecret(r);
}

TEST_CASE("facebook: an invalid page token is down with reason token_invalid") {
  FakeGraph graph;
  SECTION("as debug_token reports it") {
    graph.debug_token = [] {
      return JsonReply(200, R"({"data":{"error":{"code":190,"message":"Invalid OAuth access token.","subcode":467},)"
                            R"("is_valid":false,"scopes":[]}})");
    };
  }
  SECTION("as the Graph error object of a call") {
    graph.me = [] { return GraphErrorReply(400, 190, "Invalid OAuth access token - Cannot parse access token"); };
  }
  BuiltCollector c = BuildCollector(graph.Item());
  ProbeResult r = c.Probe();
  CHECK_FALSE(r.up);
  CHECK(r.reason == "token_invalid");
  CheckNoSecret(r);
}

TEST_CASE("facebook: a token without a required scope is down with reason missing_scope") {
  FakeGraph graph;
  graph.debug_token = [] { return JsonReply(200, ValidDebugToken(R"(["pages_show_list"])")); };
  BuiltCollector c = BuildCollector(graph.Item());
  ProbeResult r = c.Probe();
  CHECK_FALSE(r.up);
  CHECK(r.reason == "missing_scope");
  CHECK(r.message.find("pages_messaging") != std::string::npos);
  CHECK(SampleOf(r, "botwatch_facebook_token_valid") == 1.0);
  CHECK(SampleOf(r, "botwatch_facebook_token_scopes_ok") == 0.0);
  CHECK(SampleOf(r, "botwatch_facebook_token_scope_granted", {{"scope", "pages_messaging"}}) == 0.0);
}

TEST_CASE("facebook: a permission error is down with reason permission") {
  FakeGraph graph;
  graph.subscribed_apps = [] {
    return GraphErrorReply(403, 200, "(#200) Requires pages_manage_metadata permission to manage the object");
  };
  ProbeResult r = BuildCollector(graph.Item()).Probe();
  CHECK_FALSE(r.up);
  CHECK(r.reason == "permission");
}

TEST_CASE("facebook: rate limiting sets reason rate_limited and exports the usage headers") {
  FakeGraph graph;
  graph.me = [] {
    StubResponse r = GraphErrorReply(400, 32, "(#32) Page request limit reached");
    r.headers.emplace_back("X-App-Usage", R"({"call_count":100,"total_time":45,"total_cputime":30})");
    r.headers.emplace_back("X-Page-Usage", R"({"call_count":96,"total_cputime":5,"total_time":8})");
    r.headers.emplace_back("X-Business-Use-Case-Usage",
                           R"({"1234567890":[{"type":"pages","call_count":100,"total_cputime":10,"total_time":12,)"
                           R"("estimated_time_to_regain_access":7}],"555":[{"type":"messenger","call_count":20,)"
                           R"("total_cputime":40,"total_time":3,"estimated_time_to_regain_access":0}]})");
    return r;
  };
  ProbeResult r = BuildCollector(graph.Item()).Probe();
  CHECK_FALSE(r.up);
  CHECK(r.reason == "rate_limited");
  CHECK(r.message.find("(#32) Page request limit reached") != std::string::npos);
  CHECK(SampleOf(r, "botwatch_facebook_app_usage_ratio", {{"kind", "call_count"}}) == 1.0);
  CHECK(SampleOf(r, "botwatch_facebook_app_usage_ratio", {{"kind", "total_time"}}) == Approx(0.45));
  CHECK(SampleOf(r, "botwatch_facebook_app_usage_ratio", {{"kind", "total_cputime"}}) == Approx(0.30));
  CHECK(SampleOf(r, "botwatch_facebook_page_usage_ratio", {{"kind", "call_count"}}) == Approx(0.96));
  CHECK(SampleOf(r, "botwatch_facebook_business_use_case_usage_ratio", {{"kind", "call_count"}}) == 1.0);
  CHECK(SampleOf(r, "botwatch_facebook_business_use_case_usage_ratio", {{"kind", "total_cputime"}}) == Approx(0.40));
  CHECK(SampleOf(r, "botwatch_facebook_estimated_time_to_regain_access_seconds") == 420.0);
}

TEST_CASE("facebook: a 500 from the Graph API is down with reason server_error") {
  FakeGraph graph;
  SECTION("with the Graph error object") {
    graph.me = [] {
      return GraphErrorReply(500, 2, "An unexpected error has occurred. Please retry your request later.");
    };
  }
  SECTION("with a bare body") {
    graph.me = [] {
      StubResponse r;
      r.status = 502;
      r.body = "<html>Bad Gateway</html>";
      return r;
    };
  }
  ProbeResult r = BuildCollector(graph.Item()).Probe();
  CHECK_FALSE(r.up);
  CHECK(r.reason == "server_error");
  CHECK(SampleOf(r, "botwatch_facebook_token_valid") == 1.0);  // the calls before it still count
}

TEST_CASE("facebook: a Graph API that hangs is down with reason timeout at the deadline") {
  FakeGraph graph;
  graph.me = [] {
    StubResponse r;
    r.hang = true;
    return r;
  };
  BuiltCollector c = BuildCollector(graph.Item());
  auto start = std::chrono::steady_clock::now();
  ProbeResult r = c.Probe(400ms);
  auto took = std::chrono::steady_clock::now() - start;
  CHECK_FALSE(r.up);
  CHECK(r.reason == "timeout");
  CHECK(took >= 350ms);
  CHECK(took < 1s);
  CHECK(SampleOf(r, "botwatch_facebook_token_valid") == 1.0);
}

TEST_CASE("facebook: a page that dropped the app's webhook fields is down with reason webhook_unsubscribed") {
  FakeGraph graph;
  SECTION("one field dropped") {
    graph.subscribed_apps = [] {
      return JsonReply(200,
                       R"({"data":[{"category":"Business","link":"https://example.com/","name":"Bot App","id":"4242",)"
                       R"("subscribed_fields":["messages"]}]})");
    };
    ProbeResult r = BuildCollector(graph.Item()).Probe();
    CHECK(r.reason == "webhook_unsubscribed");
    CHECK(SampleOf(r, "botwatch_facebook_webhook_subscribed", {{"field", "messages"}}) == 1.0);
    CHECK(SampleOf(r, "botwatch_facebook_webhook_subscribed", {{"field", "messaging_postbacks"}}) == 0.0);
  }
  SECTION("the app no longer listed") {
    graph.subscribed_apps = [] { return JsonReply(200, R"({"data":[]})"); };
    ProbeResult r = BuildCollector(graph.Item()).Probe();
    CHECK_FALSE(r.up);
    CHECK(r.reason == "webhook_unsubscribed");
    CHECK(r.message.find("app not subscribed") != std::string::npos);
    CHECK(SampleOf(r, "botwatch_facebook_webhook_subscribed", {{"field", "messages"}}) == 0.0);
  }
  SECTION("check_webhook: false skips the call") {
    graph.subscribed_apps = [] { return JsonReply(200, R"({"data":[]})"); };
    ProbeResult r = BuildCollector(graph.Item(", check_webhook: false")).Probe();
    CHECK(r.up);
    CHECK_FALSE(SampleOf(r, "botwatch_facebook_webhook_subscribed", {{"field", "messages"}}));
    CHECK(graph.Paths().size() == 2);
  }
}

TEST_CASE("facebook: configured page_id and webhook_fields are used") {
  FakeGraph graph;
  graph.me = [] { return JsonReply(200, R"({"id":"999"})"); };  // ignored: page_id is set
  ProbeResult r = BuildCollector(graph.Item(", page_id: '1234567890', webhook_fields: [message_reads]")).Probe();
  INFO(r.message);
  CHECK(r.up);
  CHECK(SampleOf(r, "botwatch_facebook_webhook_subscribed", {{"field", "message_reads"}}) == 1.0);
  CHECK_FALSE(SampleOf(r, "botwatch_facebook_webhook_subscribed", {{"field", "messages"}}));
}

TEST_CASE("facebook: nothing listening is down with reason connection_refused") {
  std::string item = std::string("{name: fb, type: facebook, base_url: 'http://127.0.0.1:") +
                     std::to_string(UnusedPort()) + "', page_token: x, app_id: '1', app_secret: y}";
  ProbeResult r = BuildCollector(item).Probe();
  CHECK_FALSE(r.up);
  CHECK(r.reason == "connection_refused");
}

TEST_CASE("facebook: config errors name the field") {
  std::string error;
  CHECK_FALSE(BuildCollector("{name: fb, type: facebook, app_id: '1', app_secret: y}", &error).collector);
  CHECK(error.find("page_token") != std::string::npos);
  CHECK_FALSE(
      BuildCollector("{name: fb, type: facebook, page_token: x, app_id: abc, app_secret: y}", &error).collector);
  CHECK(error.find("test.yaml:2:") == 0);
  CHECK(error.find("app_id: must be the numeric app id") != std::string::npos);
  CHECK_FALSE(
      BuildCollector("{name: fb, type: facebook, page_token: x, app_id: '1', app_secret: y, api_version: 21}", &error)
          .collector);
  CHECK(error.find("api_version") != std::string::npos);
  CHECK_FALSE(BuildCollector(
                  "{name: fb, type: facebook, page_token: x, app_id: '1', app_secret: y, webhook_field: [a]}", &error)
                  .collector);
  CHECK(error.find("did you mean \"webhook_fields\"") != std::string::npos);
}

TEST_CASE("facebook: the default interval is 5 minutes unless set") {
  BuiltCollector a = BuildCollector("{name: fb, type: facebook, page_token: x, app_id: '1', app_secret: y}");
  REQUIRE(a.collector);
  CHECK(a.config->collectors[0].spec.interval == std::chrono::minutes(5));
  BuiltCollector b =
      BuildCollector("{name: fb, type: facebook, page_token: x, app_id: '1', app_secret: y, interval: 1m}");
  CHECK(b.config->collectors[0].spec.interval == std::chrono::minutes(1));
}

TEST_CASE("facebook: the page token and app secret never reach /metrics, /api/v1/status or the log") {
  FakeGraph graph;
  // A hostile answer that quotes the token back: the collector must redact it.
  graph.me = [] { return GraphErrorReply(400, 190, std::string("Malformed access token ") + kPageToken); };
  TempDir dir;
  dir.Write("app_secret", std::string(kAppSecret) + "\n");
  std::string config =
      dir.Write("botwatch.yaml", std::string("collectors:\n") +
                                     "  - {name: fb, type: facebook, interval: 1s, timeout: 900ms, base_url: '" +
                                     graph.server().Url() + "', page_token: " + kPageToken + ", app_id: '" + kAppId +
                                     "', app_secret_file: app_secret}\n");
  Botwatch bw(config, dir.path(), {"--log.level=debug"});
  REQUIRE(bw.WaitReady());
  REQUIRE(Eventually([&] { return graph.server().requests() >= 4; }, 10s));  // two probes at least
  HttpResult metrics = HttpGet(bw.Url("/metrics"));
  HttpResult status = HttpGet(bw.Url("/api/v1/status"));
  REQUIRE(metrics.status == 200);
  REQUIRE(status.status == 200);
  CHECK(ScrapeValue(metrics.body, "botwatch_collector_up{collector=\"fb\",type=\"facebook\"}") == 0.0);
  CHECK(metrics.body.find("reason=\"token_invalid\"") != std::string::npos);
  CHECK(status.body.find("Malformed access token <secret>") != std::string::npos);
  std::string log = bw.process().Log();
  for (const std::string& text : {metrics.body, status.body, log}) {
    CHECK(text.find(kPageToken) == std::string::npos);
    CHECK(text.find(kAppSecret) == std::string::npos);
    CHECK(text.find(kPageProof) == std::string::npos);
  }
  CommandResult lint = RunCommand({"promtool", "check", "metrics"}, metrics.body);
  INFO(lint.output);
  CHECK(lint.exit_code == 0);
}

TEST_CASE("facebook: answers that are not Graph JSON are down with a bounded reason") {
  FakeGraph graph;
  std::string expect;
  SECTION("200 with an HTML body") {
    graph.me = [] { return StubResponse{200, "<html>captive portal</html>"}; };
    expect = "protocol";
  }
  SECTION("debug_token without its data object") {
    graph.debug_token = [] { return JsonReply(200, R"({"result":true})"); };
    expect = "protocol";
  }
  SECTION("a connection closed in the middle of the body") {
    graph.me = [] {
      StubResponse r = JsonReply(200, R"({"id":"1234567890"})");
      r.close_midway = true;
      return r;
    };
    expect = "io";  // the headers promised more body than arrived
  }
  ProbeResult r = BuildCollector(graph.Item()).Probe();
  INFO(r.message);
  CHECK_FALSE(r.up);
  CHECK(r.reason == expect);
}

TEST_CASE("facebook: a token straddling the 200-byte cut of a Graph error message leaves no piece behind") {
  // Issue 13 item 3: cut first, then redacted, the token's first bytes survived.
  FakeGraph graph;
  const std::string filler(185, 'm');  // the cut at 200 falls 15 bytes into the token
  SECTION("in a call's Graph error") {
    graph.me = [&] { return GraphErrorReply(400, 190, filler + kPageToken + " is malformed"); };
  }
  SECTION("in debug_token's inner error") {
    graph.debug_token = [&] {
      nlohmann::json inner = {{"code", 190}, {"message", filler + kPageToken + " is malformed"}};
      return JsonReply(
          200, nlohmann::json{{"data", {{"error", inner}, {"is_valid", false}, {"scopes", nlohmann::json::array()}}}}
                   .dump());
    };
  }
  ProbeResult r = BuildCollector(graph.Item()).Probe();
  CHECK(r.reason == "token_invalid");
  INFO(r.message);
  CHECK(r.message.find(filler) != std::string::npos);
  CHECK(PieceOfSecretIn(Dump(r), kPageToken) == "");
}
