// Issue 28 item 1: redaction matched only the literal secret, so a peer that
// echoed a credential back escaped (Go's JSON writes `<` as \u003c), percent-
// encoded or base64-encoded put it into /api/v1/status and botwatch's log.
// One loopback fake per peer botwatch quotes (gemini, facebook, socketio, the
// http collector, remote_write) echoes the credentials in every form; none may
// reach /metrics, /api/v1/status or the log, in any form.

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/botwatch_process.h"
#include "tests/support/http_client.h"
#include "tests/support/loopback_server.h"
#include "tests/support/probe_helpers.h"
#include "tests/support/secret_forms.h"
#include "tests/support/temp_dir.h"

using namespace botwatch::testing;
using namespace std::chrono_literals;

namespace {

using Json = nlohmann::json;

// "echo: F1 | F2 | ..." for every form of `secret` (and of user:secret).
std::string EchoAll(const std::string& secret, const std::string& user = "") {
  std::string out = "echo:";
  for (const auto& [name, form] : EchoForms(secret, user)) out += " " + form + " |";
  return out;
}

// What EchoAll becomes once every form is redacted.
std::string Redacted(const std::string& user = "") {
  std::string out = "echo:";
  for (size_t i = 0; i < EchoForms("x", user).size(); ++i) out += " <secret> |";
  return out;
}

StubResponse JsonResponse(int status, const Json& body) {
  StubResponse r;
  r.status = status;
  r.body = body.dump();
  r.headers = {{"Content-Type", "application/json"}};
  return r;
}

struct Observed {
  std::string metrics, status, log;
};

// Waits until /api/v1/status shows `expect` (or 10 s), and returns what
// botwatch served and logged by then.
Observed Observe(Botwatch& bw, const std::string& expect) {
  Observed o;
  Eventually(
      [&] {
        o.status = HttpGet(bw.Url("/api/v1/status")).body;
        return o.status.find(expect) != std::string::npos;
      },
      10s, 50ms);
  o.metrics = HttpGet(bw.Url("/metrics")).body;
  o.log = bw.process().Log();
  return o;
}

// Runs botwatch on `config` until /api/v1/status shows `expect` (or 10 s),
// and returns what it served and logged.
Observed Run(const TempDir& dir, const std::string& config, const std::string& expect) {
  Botwatch bw(dir.Write("botwatch.yaml", config), dir.path(), {"--log.level=debug"});
  REQUIRE(bw.WaitStarted());
  return Observe(bw, expect);
}

void CheckNothingLeaks(const Observed& o, const std::string& secret, const std::string& expect,
                       const std::string& user = "") {
  INFO(o.status);
  CHECK(o.status.find(expect) != std::string::npos);
  CHECK(LeakedForm(o.status, secret, user) == "");
  CHECK(LeakedForm(o.metrics, secret, user) == "");
  CHECK(LeakedForm(o.log, secret, user) == "");
}

}  // namespace

TEST_CASE("redaction: gemini quoting its API key back in every form") {
  const std::string key = std::string("AIza-") + kHostileSecretPart + "-key";
  LoopbackServer api([&](const StubRequest&) {
    return JsonResponse(400, {{"error",
                               {{"code", 400},
                                {"message", EchoAll(key)},
                                {"status", "INVALID_ARGUMENT"},
                                {"details", Json::array({{{"@type", "type.googleapis.com/google.rpc.ErrorInfo"},
                                                          {"reason", "API_KEY_INVALID"}}})}}}});
  });
  TempDir dir;
  const std::string key_file = dir.Write("key", key);
  Observed o = Run(dir,
                   "collectors:\n  - {name: ai, type: gemini, interval: 500ms, base_url: '" + api.Url() +
                       "', api_key_file: " + key_file + ", model: gemini-2.0-flash}\n",
                   Redacted());
  CheckNothingLeaks(o, key, Redacted());
}

TEST_CASE("redaction: facebook quoting its page token and app secret back in every form") {
  const std::string token = std::string("EAAG-") + kHostileSecretPart + "-page";
  const std::string app_secret = std::string("s3cr") + kHostileSecretPart + "-app";
  LoopbackServer graph([&](const StubRequest&) {
    return JsonResponse(400, {{"error",
                               {{"message", EchoAll(token) + EchoAll(app_secret)},
                                {"type", "OAuthException"},
                                {"code", 190},
                                {"fbtrace_id", "AbCdEf"}}}});
  });
  TempDir dir;
  const std::string expect = Redacted() + Redacted();
  Observed o = Run(dir,
                   "collectors:\n  - {name: fb, type: facebook, interval: 500ms, base_url: '" + graph.Url() +
                       "', page_token_file: " + dir.Write("token", token) +
                       ", app_id: '123', app_secret_file: " + dir.Write("app", app_secret) + "}\n",
                   expect);
  CheckNothingLeaks(o, token, expect);
  CheckNothingLeaks(o, app_secret, expect);
}

TEST_CASE("redaction: socketio quoting its auth secret back in every form") {
  const std::string secret = std::string("sio-") + kHostileSecretPart + "-auth";
  LoopbackServer server([&](const StubRequest&) {
    StubResponse r;
    r.status = 403;
    r.body = "forbidden; " + EchoAll(secret);
    return r;
  });
  TempDir dir;
  const std::string expect = "forbidden; " + Redacted();
  Observed o = Run(dir,
                   "collectors:\n  - {name: admin, type: socketio, interval: 500ms, url: '" + server.Url() +
                       "', auth: {token_file: " + dir.Write("secret", secret) + "}}\n",
                   expect);
  CheckNothingLeaks(o, secret, expect);
}

TEST_CASE("redaction: the http collector, when libcurl quotes a redirect's host made of the token") {
  // A host name can only carry the token base64-encoded, in the URL-safe
  // alphabet ('-' and '_'), without padding: a token of 3n bytes has none.
  std::string token = std::string("Bearer-") + kHostileSecretPart;
  while (token.size() % 3 != 0) token += 'x';
  std::string b64 = Base64(token);
  for (char& c : b64) c = c == '+' ? '-' : c == '/' ? '_' : c;
  REQUIRE(b64.find('=') == std::string::npos);
  const int closed = UnusedPort();
  LoopbackServer site([&](const StubRequest&) {
    StubResponse r;
    r.status = 302;
    r.headers = {{"Location", "http://" + b64 + ".localhost:" + std::to_string(closed) + "/"}};
    return r;
  });
  TempDir dir;
  Botwatch bw(dir.Write("botwatch.yaml", "collectors:\n  - {name: site, type: http, interval: 500ms, url: '" +
                                             site.Url() + "', headers: {Authorization: 'Bearer ${HTTP_TOKEN}'}}\n"),
              dir.path(), {}, {"HTTP_TOKEN=" + token});
  REQUIRE(bw.WaitStarted());
  const std::string expect = "<secret>.localhost port " + std::to_string(closed);
  Observed o = Observe(bw, expect);
  CheckNothingLeaks(o, token, expect);
  for (const std::string& text : {o.status, o.metrics, o.log}) CHECK(PieceOfSecretIn(text, b64, 12) == "");
}

TEST_CASE("redaction: a remote_write receiver echoing the credentials back in every form") {
  const std::string user = "bot-user";
  const std::string password = std::string("RWTOK2") + kHostileSecretPart + "-basic";
  const std::string bearer = std::string("RWTOK2") + kHostileSecretPart + "-bearer";
  LoopbackServer receiver([&](const StubRequest& req) {
    // A Go receiver reflecting what it was sent, JSON-encoded as Go does.
    StubResponse r;
    r.status = 400;
    r.headers = {{"Content-Type", "application/json"}};
    r.body = "{\"error\":\"bad credentials: " + GoJsonEscape(req.Header("Authorization")) + "; " +
             (req.Header("Authorization").rfind("Basic", 0) == 0 ? EchoAll(password, user) : EchoAll(bearer)) + "\"}";
    return r;
  });
  TempDir dir;
  std::string basic = dir.Write("pw", password);
  std::string token = dir.Write("token", bearer);
  Botwatch bw(dir.Write("botwatch.yaml",
                        "remote_write:\n"
                        "  - {name: basic, url: '" +
                            receiver.Url("/api/v1/write") +
                            "', interval: 200ms,\n"
                            "     basic_auth: {username: " +
                            user + ", password_file: " + basic +
                            "}}\n"
                            "  - {name: bearer, url: '" +
                            receiver.Url("/api/v1/write?b") +
                            "', interval: 200ms,\n"
                            "     authorization: {credentials_file: " +
                            token + "}}\n"),
              dir.path(), {"--log.level=debug"});
  REQUIRE(bw.WaitStarted());
  Json rw;
  REQUIRE(Eventually(
      [&] {
        rw = Json::parse(HttpGet(bw.Url("/api/v1/status")).body, nullptr, false)["data"]["remote_write"];
        return rw.is_array() && rw.size() == 2 && !rw[0]["last_error"].get<std::string>().empty() &&
               !rw[1]["last_error"].get<std::string>().empty();
      },
      10s, 50ms));
  Observed o;
  o.status = HttpGet(bw.Url("/api/v1/status")).body;
  o.metrics = HttpGet(bw.Url("/metrics")).body;
  o.log = bw.process().Log();
  INFO(o.status);
  // The reproduction: "Bearer RWTOK2\u003cx..." in the status and the warn line.
  CHECK(rw[0]["last_error"].get<std::string>().find("Basic <secret>; echo: <secret> |") != std::string::npos);
  CHECK(rw[1]["last_error"].get<std::string>().find("Bearer <secret>; echo: <secret> |") != std::string::npos);
  CHECK(o.log.find("receiver rejected the batch") != std::string::npos);
  for (const auto& [secret, u] : {std::pair{password, user}, std::pair{bearer, std::string()}}) {
    CHECK(LeakedForm(o.status, secret, u) == "");
    CHECK(LeakedForm(o.metrics, secret, u) == "");
    CHECK(LeakedForm(o.log, secret, u) == "");
  }
}
