// POST /api/v1/logs against the real binary: NDJSON and JSON arrays into a
// `type: http` source with the shipped preset (exact bot_* counts), a bad line
// answered 400 with its number while the good ones count, 413, 429, auth with
// a web config, and a real winston Http transport (npm) as the sender.

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <optional>

#include "tests/support/botwatch_process.h"
#include "tests/support/http_client.h"
#include "tests/support/probe_helpers.h"
#include "tests/support/secure_http.h"
#include "tests/support/temp_dir.h"

using namespace botwatch::testing;
using namespace std::chrono_literals;

namespace {

const std::string kPreset = std::string(BOTWATCH_SOURCE_DIR) + "/config/presets/messenger-bot.yaml";

std::string Config(const std::string& extra = "") {
  return "logs:\n"
         "  - name: remote-bot\n"
         "    type: http\n"
         "    format: json\n"
         "    max_body_bytes: 4096\n"
         "    rate_limit: {requests_per_second: 1000, burst: 1000}\n"
         "    rules: " +
         kPreset +
         "\n"
         "  - name: limited\n"
         "    type: http\n"
         "    rate_limit: {requests_per_second: 0.01, burst: 2}\n"
         "    rules: [{metric: limited_total, type: counter, help: Lines., match: {field: message, exists: true}}]\n" +
         extra;
}

std::string Processed(int i) {
  return "{\"level\":\"info\",\"message\":\"message processed\",\"userId\":\"u" + std::to_string(i) +
         "\",\"responseTime\":250,\"template\":\"greeting\",\"cacheHit\":true}";
}
const std::string kSent = "{\"level\":\"info\",\"message\":\"message sent\",\"userId\":\"u1\"}";

// A POST of `body` to `path` with one `header`.
SecureRequest PostWith(Botwatch& bw, const std::string& path, const std::string& body, const std::string& header) {
  SecureRequest q;
  q.url = bw.Url(path);
  q.method = "POST";
  q.body = body;
  q.headers = {header};
  return q;
}

SecureResult Post(Botwatch& bw, const std::string& path, const std::string& body, const std::string& user = "",
                  const std::string& password = "") {
  SecureRequest q = PostWith(bw, path, body, "Content-Type: application/x-ndjson");
  q.user = user;
  q.password = password;
  return Fetch(q);
}

// The flag that gives botwatch a web config with one basic auth user, `bot`.
std::string UserBotFlag(const TempDir& dir, const std::string& password) {
  return "--web.config.file=" + dir.Write("web.yml", "basic_auth_users:\n  bot: " + BcryptHash(password) + "\n");
}

// /metrics as user `bot`.
std::string MetricsAsBot(Botwatch& bw, const std::string& password) {
  SecureRequest q;
  q.url = bw.Url("/metrics");
  q.user = "bot";
  q.password = password;
  return Fetch(q).body;
}

double Value(Botwatch& bw, const std::string& series) {
  return ScrapeValue(HttpGet(bw.Url("/metrics")).body, series).value_or(-1);
}

}  // namespace

TEST_CASE("intake: NDJSON into the preset, a bad line in the middle, oversize and unknown sources") {
  TempDir dir;
  Botwatch bw(dir.Write("botwatch.yaml", Config()), dir.path());
  REQUIRE(bw.WaitStarted());
  const std::string path = "/api/v1/logs?source=remote-bot";

  // Good NDJSON, CRLF and a blank line included.
  SecureResult r = Post(bw, path, Processed(1) + "\r\n" + Processed(2) + "\n\n" + kSent + "\n" + kSent);
  CHECK(r.status == 200);
  CHECK(nlohmann::json::parse(r.body) == nlohmann::json{{"accepted", 4}, {"rejected", 0}});
  CHECK(Value(bw, "bot_messages_total{direction=\"inbound\"}") == 2);
  CHECK(Value(bw, "bot_messages_total{direction=\"outbound\"}") == 2);

  // A bad line (line 3, truncated, holding a secret-looking value) in the middle.
  r = Post(bw, path,
           Processed(3) + "\n" + kSent +
               "\n{\"level\":\"info\",\"message\":\"message processed\",\"apiKey\":\"AIzaSECRET\n" + Processed(4) +
               "\nnot json at all\n" + kSent + "\n");
  CHECK(r.status == 400);
  INFO(r.body);
  nlohmann::json answer = nlohmann::json::parse(r.body);
  CHECK(answer["accepted"] == 4);
  CHECK(answer["rejected"] == 2);
  CHECK(answer["first_error"]["line"] == 3);
  CHECK(answer["first_error"]["error"].get<std::string>().rfind("invalid JSON", 0) == 0);
  CHECK(r.body.find("AIzaSECRET") == std::string::npos);
  CHECK(bw.process().Log().find("AIzaSECRET") == std::string::npos);
  CHECK(Value(bw, "bot_messages_total{direction=\"inbound\"}") == 4);
  CHECK(Value(bw, "bot_messages_total{direction=\"outbound\"}") == 4);
  CHECK(Value(bw, "bot_template_cache_requests_total{result=\"hit\"}") == 4);
  CHECK(Value(bw, "botwatch_log_lines_total{source=\"remote-bot\"}") == 10);
  CHECK(Value(bw, "botwatch_log_parse_errors_total{source=\"remote-bot\"}") == 2);

  // A JSON array: winston's Http transport with batch: true.
  r = Post(bw, path, "[" + Processed(5) + "," + kSent + "]");
  CHECK(r.status == 200);
  CHECK(Value(bw, "bot_messages_total{direction=\"inbound\"}") == 5);

  // Over max_body_bytes (4096): 413, and nothing of it is counted.
  std::string big;
  while (big.size() <= 4096) big += kSent + "\n";
  r = Post(bw, path, big);
  CHECK(r.status == 413);
  CHECK(Value(bw, "bot_messages_total{direction=\"outbound\"}") == 5);
  // The same with chunked transfer encoding (no Content-Length).
  CHECK(Fetch(PostWith(bw, path, big, "Transfer-Encoding: chunked")).status == 413);
  CHECK(Value(bw, "bot_messages_total{direction=\"outbound\"}") == 5);

  // Other answers.
  CHECK(Post(bw, "/api/v1/logs?source=nope", kSent).status == 404);
  CHECK(Post(bw, "/api/v1/logs", kSent).status == 400);  // two http sources: ?source= is required
  CHECK(HttpGet(bw.Url(path)).status == 405);
  CHECK(Fetch(PostWith(bw, path, kSent, "Content-Encoding: gzip")).status == 415);

  std::string m = HttpGet(bw.Url("/metrics")).body;
  CHECK(ScrapeValue(m, "botwatch_log_intake_requests_total{code=\"200\",source=\"remote-bot\"}") == 2);
  CHECK(ScrapeValue(m, "botwatch_log_intake_requests_total{code=\"400\",source=\"remote-bot\"}") == 1);
  CHECK(ScrapeValue(m, "botwatch_log_intake_requests_total{code=\"413\",source=\"remote-bot\"}") == 2);
  CommandResult lint = RunCommand({"promtool", "check", "metrics"}, m);
  INFO(lint.output);
  CHECK(lint.exit_code == 0);

  // A reload keeps the counts and the answer counts, and the source goes on.
  REQUIRE(HttpPost(bw.Url("/-/reload")).status == 200);
  CHECK(Post(bw, path, Processed(6)).status == 200);
  m = HttpGet(bw.Url("/metrics")).body;
  CHECK(ScrapeValue(m, "bot_messages_total{direction=\"inbound\"}") == 6);
  CHECK(ScrapeValue(m, "botwatch_log_lines_total{source=\"remote-bot\"}") == 13);
  CHECK(ScrapeValue(m, "botwatch_log_intake_requests_total{code=\"200\",source=\"remote-bot\"}") == 3);
}

TEST_CASE("intake: past the token bucket a source answers 429 with Retry-After, others are not affected") {
  TempDir dir;
  Botwatch bw(dir.Write("botwatch.yaml", Config()), dir.path());
  REQUIRE(bw.WaitStarted());
  const std::string line = "{\"message\":\"x\"}\n";
  CHECK(Post(bw, "/api/v1/logs?source=limited", line).status == 200);
  CHECK(Post(bw, "/api/v1/logs?source=limited", line).status == 200);
  SecureResult r = Post(bw, "/api/v1/logs?source=limited", line);
  CHECK(r.status == 429);
  CHECK(r.headers.find("Retry-After: 100\r\n") != std::string::npos);  // 1 token at 0.01/s
  CHECK(Post(bw, "/api/v1/logs?source=remote-bot", kSent).status == 200);
  CHECK(Value(bw, "limited_total") == 2);
}

TEST_CASE("intake: with a web config, posting logs needs the credentials") {
  TempDir dir;
  const std::string password = "intake-Pa55word";
  Botwatch bw(dir.Write("botwatch.yaml", Config()), dir.path(), {UserBotFlag(dir, password)});
  REQUIRE(bw.WaitStarted());
  const std::string path = "/api/v1/logs?source=remote-bot";
  CHECK(Post(bw, path, kSent).status == 401);
  CHECK(Post(bw, path, kSent, "bot", "wrong").status == 401);
  CHECK(Post(bw, path, kSent, "bot", password).status == 200);
  CHECK(ScrapeValue(MetricsAsBot(bw, password), "bot_messages_total{direction=\"outbound\"}") == 1);
  CHECK(bw.process().Log().find(password) == std::string::npos);
}

TEST_CASE("intake: a real winston Http transport, one request per event and batched", "[winston]") {
  TempDir dir;
  const std::string password = "winston-Pa55word";
  Botwatch bw(dir.Write("botwatch.yaml", Config()), dir.path(), {UserBotFlag(dir, password)});
  REQUIRE(bw.WaitStarted());
  const std::string script = std::string(BOTWATCH_WINSTON_DIR) + "/send-http.js";
  const std::string port = std::to_string(bw.port());
  CommandResult single = RunCommand(
      {"/usr/bin/env", "node", script, port, "/api/v1/logs?source=remote-bot", "single", "bot:" + password}, "", 60s);
  INFO(single.output);
  REQUIRE(single.exit_code == 0);
  CHECK(single.output.find("responses=49 failures=0") != std::string::npos);
  CommandResult batched = RunCommand(
      {"/usr/bin/env", "node", script, port, "/api/v1/logs?source=remote-bot", "batch", "bot:" + password}, "", 60s);
  INFO(batched.output);
  REQUIRE(batched.exit_code == 0);
  CHECK(batched.output.find("responses=7 failures=0") != std::string::npos);

  std::string m = MetricsAsBot(bw, password);
  auto v = [&](const std::string& series) { return ScrapeValue(m, series).value_or(-1); };
  // Each run: 20 processed, 20 sent, 4 inquiries (2 shoes, 2 bags), 5 errors.
  CHECK(v("bot_messages_total{direction=\"inbound\"}") == 40);
  CHECK(v("bot_messages_total{direction=\"outbound\"}") == 40);
  CHECK(v("bot_template_cache_requests_total{result=\"hit\"}") == 20);
  CHECK(v("bot_template_cache_requests_total{result=\"miss\"}") == 20);
  CHECK(v("bot_product_inquiries_total{category=\"shoes\"}") == 4);
  CHECK(v("bot_product_inquiries_total{category=\"bags\"}") == 4);
  CHECK(v("bot_errors_total{type=\"gemini\"}") == 10);
  CHECK(v("bot_response_time_seconds_count") == 40);
  CHECK(v("botwatch_log_lines_total{source=\"remote-bot\"}") == 98);
  CHECK(v("botwatch_log_parse_errors_total{source=\"remote-bot\"}") == 0);
  CHECK(v("botwatch_log_intake_requests_total{code=\"200\",source=\"remote-bot\"}") == 56);
  CHECK(std::abs(v("bot_active_users{window=\"30m\"}") - 7) <= 1);
}
