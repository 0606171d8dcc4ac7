// Pure parsing and classification of the facebook, gemini and socketio
// collectors, on literal strings.

#include <catch2/catch.hpp>

#include "collectors/facebook.h"
#include "collectors/gemini.h"
#include "collectors/lib/http_request.h"
#include "collectors/registry.h"
#include "collectors/socketio.h"
#include "tests/support/probe_helpers.h"

using namespace botwatch;

TEST_CASE("AppSecretProof is HMAC-SHA256 in lower-case hex") {
  // RFC 4231 test case 2.
  CHECK(AppSecretProof("what do ya want for nothing?", "Jefe") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // openssl dgst -sha256 -hmac app-secret-XYZ-987 <<< "4242|app-secret-XYZ-987" (without the newline)
  CHECK(AppSecretProof("4242|app-secret-XYZ-987", "app-secret-XYZ-987") ==
        "e855cb0e1131cc8be583f5d5efa87bf912de4c2a99a0149b79e7200ae6374fa1");
}

TEST_CASE("Graph error codes map to bounded reasons") {
  auto reason_of = [](int code, int subcode = 0, long http = 400) {
    GraphError e;
    e.code = code;
    e.subcode = subcode;
    return std::string(ReasonForGraphError(e, http));
  };
  CHECK(reason_of(190, 463) == "token_expired");
  CHECK(reason_of(190, 460) == "token_invalid");
  CHECK(reason_of(190) == "token_invalid");
  CHECK(reason_of(10) == "permission");
  CHECK(reason_of(200) == "permission");
  CHECK(reason_of(294) == "permission");
  for (int code : {4, 17, 32, 613, 80001, 80006}) {
    INFO(code);
    CHECK(reason_of(code) == "rate_limited");
  }
  CHECK(reason_of(2, 0, 500) == "server_error");
  CHECK(reason_of(100) == "api_error");
  CHECK(std::string(ReasonForGraphError(std::nullopt, 503)) == "server_error");
  CHECK(std::string(ReasonForGraphError(std::nullopt, 404)) == "api_error");
}

TEST_CASE("ParseGraphError reads the documented error object") {
  auto e = ParseGraphError(
      R"({"error":{"message":"Message describing the error","type":"OAuthException","code":190,)"
      R"("error_subcode":460,"error_user_title":"A title","error_user_msg":"A message","fbtrace_id":"EJplcsCHuLu"}})");
  REQUIRE(e);
  CHECK(e->code == 190);
  CHECK(e->subcode == 460);
  CHECK(e->message == "Message describing the error");
  CHECK(e->type == "OAuthException");
  CHECK_FALSE(ParseGraphError(R"({"id":"1"})"));
  CHECK_FALSE(ParseGraphError("<html>"));
  CHECK_FALSE(ParseGraphError(R"({"error":"text"})"));
  auto odd = ParseGraphError(R"({"error":{"code":"190","message":5}})");  // wrong types: no crash
  REQUIRE(odd);
  CHECK(odd->code == 0);
  CHECK(odd->message.empty());
}

TEST_CASE("usage headers become ratios and the regain estimate becomes seconds") {
  ProbeResponse resp;
  resp.headers = {
      {"x-app-usage", R"({"call_count":28,"total_time":25,"total_cputime":120})"},
      {"x-page-usage", "not json"},
      {"x-business-use-case-usage", R"({"1":[{"type":"pages","call_count":10,"total_cputime":1,"total_time":2,)"
                                    R"("estimated_time_to_regain_access":0}],"2":[{"type":"messenger","call_count":80,)"
                                    R"("estimated_time_to_regain_access":3}],"3":"junk"})"}};
  GraphUsage usage;
  ParseUsageHeaders(resp, &usage);
  CHECK(usage.app.at("call_count") == Approx(0.28));
  CHECK(usage.app.at("total_cputime") == Approx(1.2));
  CHECK(usage.page.empty());
  CHECK(usage.business.at("call_count") == Approx(0.8));
  CHECK(usage.business.at("total_time") == Approx(0.02));
  CHECK(usage.regain_access_seconds == 180);
}

TEST_CASE("Gemini quota ids are classified into bounded kinds") {
  CHECK(ClassifyQuota("GenerateRequestsPerMinutePerProjectPerModel-FreeTier", "") == "per_minute");
  CHECK(ClassifyQuota("GenerateRequestsPerDayPerProjectPerModel-FreeTier", "") == "per_day");
  CHECK(ClassifyQuota("GenerateContentInputTokensPerModelPerMinute-FreeTier",
                      "generativelanguage.googleapis.com/generate_content_free_tier_input_token_count") == "tokens");
  CHECK(ClassifyQuota("", "generativelanguage.googleapis.com/generate_content_paid_tier_input_token_count") ==
        "tokens");
  CHECK(ClassifyQuota("SomethingNew", "x") == "other");
}

TEST_CASE("protobuf durations parse as seconds") {
  CHECK(ParseProtoDuration("37s") == 37.0);
  CHECK(ParseProtoDuration("0.5s") == 0.5);
  CHECK(ParseProtoDuration("1.000340s") == Approx(1.00034));
  CHECK_FALSE(ParseProtoDuration("37"));
  CHECK_FALSE(ParseProtoDuration("s"));
  CHECK_FALSE(ParseProtoDuration("-1s"));
  CHECK_FALSE(ParseProtoDuration("1.2.3s"));
}

TEST_CASE("google.rpc errors are read with their details") {
  auto e =
      ParseGoogleRpcError(R"({"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED","details":[)"
                          R"({"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[)"
                          R"({"quotaMetric":"m","quotaId":"GenerateRequestsPerMinutePerProjectPerModel-FreeTier"},)"
                          R"({"quotaMetric":"m","quotaId":"GenerateRequestsPerDayPerProjectPerModel-FreeTier"},)"
                          R"({"quotaMetric":"m","quotaId":"GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}]},)"
                          R"({"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"37s"}]}})");
  REQUIRE(e);
  CHECK(e->code == 429);
  CHECK(e->status == "RESOURCE_EXHAUSTED");
  CHECK(e->quota_kinds == std::vector<std::string>{"per_minute", "per_day"});
  CHECK(e->retry_delay_seconds == 37.0);
  CHECK(std::string(ReasonForGeminiError(429, e)) == "quota_exhausted");
  CHECK(std::string(ReasonForGeminiError(404, std::nullopt)) == "model_not_found");
  CHECK(std::string(ReasonForGeminiError(403, std::nullopt)) == "auth");
  CHECK(std::string(ReasonForGeminiError(500, std::nullopt)) == "server_error");
  CHECK(std::string(ReasonForGeminiError(400, std::nullopt)) == "http_status");
  CHECK_FALSE(ParseGoogleRpcError("[]"));
  CHECK(ParseGoogleRpcError(R"({"error":{"details":"x"}})"));
}

TEST_CASE("Engine.IO polling payloads split on the record separator") {
  CHECK(SplitPollingPayload("40{\"sid\":\"a\"}\x1e"
                            "42[\"hello\"]") == std::vector<std::string>{"40{\"sid\":\"a\"}", "42[\"hello\"]"});
  CHECK(SplitPollingPayload("2") == std::vector<std::string>{"2"});
  CHECK(SplitPollingPayload("").empty());
  CHECK(SplitPollingPayload("\x1e\x1e").empty());
}

TEST_CASE("Socket.IO packets are parsed with namespace and ack id") {
  auto p = ParseSocketIoPacket("40/admin,{\"sid\":\"x\"}");
  REQUIRE(p);
  CHECK(p->type == 0);
  CHECK(p->nsp == "/admin");
  CHECK(p->data == "{\"sid\":\"x\"}");
  p = ParseSocketIoPacket("44{\"message\":\"unauthorized\"}");
  REQUIRE(p);
  CHECK(p->type == 4);
  CHECK(p->nsp == "/");
  p = ParseSocketIoPacket("4312[\"pong\"]");
  REQUIRE(p);
  CHECK(p->type == 3);
  CHECK(p->data == "[\"pong\"]");
  p = ParseSocketIoPacket("451-/admin,[\"file\",{\"_placeholder\":true,\"num\":0}]");
  REQUIRE(p);
  CHECK(p->nsp == "/admin");
  CHECK_FALSE(ParseSocketIoPacket("2"));
  CHECK_FALSE(ParseSocketIoPacket("49"));
  CHECK_FALSE(ParseSocketIoPacket("45[\"no-attachment-count\"]"));
  CHECK_FALSE(ParseSocketIoPacket("451[\"no dash\"]"));
  CHECK_FALSE(ParseSocketIoPacket("4"));
}

TEST_CASE("QuotePeer redacts before it cuts, so no piece of a secret survives the cut") {
  const std::string key = "AIzaSyD-straddling-KEY-0123456789";
  Secret s(key), other("pw");
  for (size_t before : {180, 185, 190, 195, 199}) {
    std::string peer = std::string(before, 'm') + key + " and more text after it";
    std::string kept = QuotePeer(peer, {&s, &other});
    INFO(before << ": " << kept);
    CHECK(kept.size() <= kPeerTextBytes + 3);
    CHECK(kept.size() >= kPeerTextBytes - 3);
    CHECK(kept.compare(kept.size() - 3, 3, "...") == 0);
    CHECK(botwatch::testing::PieceOfSecretIn(kept, key).empty());
  }
  // The order matters: cut first, then redacted, the key's first bytes stay.
  std::string cut_first = RedactSecrets((std::string(190, 'm') + key).substr(0, 200), {&s});
  CHECK(cut_first.find(key.substr(0, 10)) != std::string::npos);
  // Short text is kept whole (redacted), and a cut never splits a UTF-8 character.
  CHECK(QuotePeer("bad pw here", {&other}) == "bad <secret> here");
  std::string accents;
  for (int i = 0; i < 150; ++i) accents += "\xc3\xa9";  // "é", two bytes each
  std::string kept = QuotePeer(accents, {});
  CHECK(kept == accents.substr(0, 200) + "...");
  CHECK(QuotePeer("x" + accents, {}) == "x" + accents.substr(0, 198) + "...");
  CHECK(QuotePeer(std::string(50, 'a'), {}, 10) == std::string(10, 'a') + "...");
}

TEST_CASE("RedactSecrets replaces every occurrence of each secret") {
  Secret a("tok"), b("pw"), empty;
  CHECK(RedactSecrets("tok and tok, pw", {&a, &b, &empty, nullptr}) == "<secret> and <secret>, <secret>");
  CHECK(RedactSecrets("nothing", {&a}) == "nothing");
}

TEST_CASE("the registry knows per-type default intervals") {
  const CollectorRegistry& r = CollectorRegistry::Global();
  CHECK(r.DefaultInterval("facebook") == Duration(std::chrono::minutes(5)));
  CHECK_FALSE(r.DefaultInterval("gemini"));
  CHECK_FALSE(r.DefaultInterval("no-such-type"));
}
