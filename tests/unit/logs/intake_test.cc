// The non-file log sources: HTTP intake body parsing, its token bucket, and
// the config of `type: child` and `type: http` sources (exact error lines).

#include <catch2/catch.hpp>
#include <fstream>
#include <set>

#include "agent/config.h"
#include "logs/http_intake.h"
#include "logs/log_config.h"

using namespace botwatch;
using botwatch::IngestBody;
using botwatch::IntakeResult;
using botwatch::TokenBucket;

namespace {

struct RecordingSink : LineSink {
  std::vector<std::string> lines;
  int too_long = 0;
  void Line(std::string_view line) override { lines.emplace_back(line); }
  void TooLong() override { ++too_long; }
};

Result<std::shared_ptr<const Config>> Load(const std::string& text) {
  ConfigSource src;
  src.file = "bw.yaml";
  return LoadConfigText(text, src);
}

const char* kRules =
    "    rules:\n      - {metric: seen_total, type: counter, help: Seen., match: {field: message, exists: true}}\n";

}  // namespace

TEST_CASE("intake: NDJSON lines go to the sink, blank lines and CRLF are handled") {
  RecordingSink sink;
  IntakeResult r = IngestBody("{\"message\":\"a\"}\r\n\n  \n{\"message\":\"b\"}\n{\"message\":\"c\"}", 1024, sink);
  CHECK(r.accepted == 3);
  CHECK(r.rejected == 0);
  CHECK_FALSE(r.array);
  CHECK(sink.lines == std::vector<std::string>{"{\"message\":\"a\"}", "{\"message\":\"b\"}", "{\"message\":\"c\"}"});
}

TEST_CASE("intake: a bad line in the middle is reported by number and the good ones still count") {
  RecordingSink sink;
  const std::string body =
      "{\"message\":\"a\"}\n"
      "\n"
      "{\"message\":\"b\"}\n"
      "{\"message\": \"secret-token-123\"\n"      // line 4: truncated
      "[1,2]\n"                                   // line 5: not an object
      "{\"message\":\"c\"}{\"message\":\"d\"}\n"  // line 6: two glued
      "{\"message\":\"e\"}\n";
  IntakeResult r = IngestBody(body, 1024, sink);
  CHECK(r.accepted == 3);
  CHECK(r.rejected == 3);
  CHECK(r.first_error_position == 4);
  CHECK(r.first_error.rfind("invalid JSON: ", 0) == 0);
  CHECK(r.first_error.find("secret") == std::string::npos);  // never quotes the body
  // Bad lines reach the sink too, where the parser counts them as parse errors.
  CHECK(sink.lines.size() == 6);
}

TEST_CASE("intake: a non-object line and a too long line") {
  RecordingSink sink;
  IntakeResult r = IngestBody("\"just a string\"\n", 1024, sink);
  CHECK(r.rejected == 1);
  CHECK(r.first_error_position == 1);
  CHECK(r.first_error == "not a JSON object");

  RecordingSink sink2;
  IntakeResult r2 = IngestBody("{\"message\":\"ok\"}\n{\"message\":\"" + std::string(300, 'x') + "\"}\n", 256, sink2);
  CHECK(r2.accepted == 1);
  CHECK(r2.rejected == 1);
  CHECK(r2.first_error_position == 2);
  CHECK(r2.first_error == "longer than max_line_bytes (256)");
  CHECK(sink2.too_long == 1);
  CHECK(sink2.lines.size() == 1);
}

TEST_CASE("intake: a JSON array (winston's Http transport with batch: true) is one line per object") {
  RecordingSink sink;
  IntakeResult r =
      IngestBody(" [ {\"message\": \"a\", \"n\": 1},\n {\"message\":\"b\"}, 7, {\"message\":\"c\"} ] ", 1024, sink);
  CHECK(r.array);
  CHECK(r.accepted == 3);
  CHECK(r.rejected == 1);
  CHECK(r.first_error_position == 3);
  CHECK(r.first_error == "not a JSON object");
  CHECK(sink.lines ==
        std::vector<std::string>{"{\"message\":\"a\",\"n\":1}", "{\"message\":\"b\"}", "7", "{\"message\":\"c\"}"});

  RecordingSink broken;
  IntakeResult b = IngestBody("[{\"message\":\"a\"},", 1024, broken);
  CHECK(b.accepted == 0);
  CHECK(b.rejected == 1);
  CHECK(b.first_error_position == 1);
  CHECK(b.first_error.rfind("invalid JSON: ", 0) == 0);
}

TEST_CASE("intake: an empty body accepts nothing and rejects nothing") {
  RecordingSink sink;
  IntakeResult r = IngestBody("", 1024, sink);
  CHECK(r.accepted == 0);
  CHECK(r.rejected == 0);
  CHECK(sink.lines.empty());
}

TEST_CASE("intake: the token bucket allows a burst, then the rate, and says how long to wait") {
  TokenBucket b(2, 3);  // 2 a second, burst 3
  CHECK_FALSE(b.Take(100.0));
  CHECK_FALSE(b.Take(100.0));
  CHECK_FALSE(b.Take(100.0));
  std::optional<double> wait = b.Take(100.0);
  REQUIRE(wait);
  CHECK(*wait == Approx(0.5));
  CHECK(b.Take(100.25).value_or(0) == Approx(0.25));
  CHECK_FALSE(b.Take(100.5));   // one token came back
  CHECK(b.Take(100.5));         // and is gone
  CHECK_FALSE(b.Take(1000.0));  // refills, but only up to the burst
  CHECK_FALSE(b.Take(1000.0));
  CHECK_FALSE(b.Take(1000.0));
  CHECK(b.Take(1000.0));
  CHECK(b.Take(999.0));  // a clock going back never adds tokens
}

TEST_CASE("intake: answer counts survive a save and restore") {
  HttpIntake a("remote", 1024, 1024, 1, 1);
  a.CountAnswer(200);
  a.CountAnswer(200);
  a.CountAnswer(429);
  HttpIntake b("remote", 1024, 1024, 1, 1);
  b.Restore(a.Save());
  Family f = HttpIntake::RequestsFamily({&b});
  CHECK(f.name == "botwatch_log_intake_requests_total");
  REQUIRE(f.metric.size() == 2);
  CHECK(f.metric[0].label[0].value == "200");
  CHECK(f.metric[0].counter.value == 2);
  CHECK(f.metric[1].label[0].value == "429");
  CHECK(f.metric[1].counter.value == 1);
}

TEST_CASE("logs config: child and http sources") {
  auto ok = Load(std::string("logs:\n"
                             "  - name: bot\n    type: child\n    streams: [stdout]\n    format: json\n") +
                 kRules +
                 "  - name: remote\n    type: http\n    max_body_bytes: 2048\n"
                 "    rate_limit: {requests_per_second: 0.5, burst: 3}\n" +
                 kRules + "  - name: both\n    type: child\n" + kRules);
  INFO(ok.status().message());
  REQUIRE(ok.ok());
  const auto& s = ok.value()->logs->sources;
  REQUIRE(s.size() == 3);
  CHECK(s[0].type == SourceType::kChild);
  CHECK(s[0].child_stdout);
  CHECK_FALSE(s[0].child_stderr);
  CHECK(s[0].paths.empty());
  CHECK(s[1].type == SourceType::kHttp);
  CHECK(s[1].max_body_bytes == 2048);
  CHECK(s[1].rate_per_second == 0.5);
  CHECK(s[1].rate_burst == 3);
  CHECK(s[2].child_stdout);
  CHECK(s[2].child_stderr);
}

TEST_CASE("logs config: errors of child and http sources name file, line and column") {
  struct Case {
    std::string text;
    const char* message;
  };
  const std::string head = "logs:\n  - name: x\n";
  const Case cases[] = {
      {head + "    type: socket\n" + kRules,
       "bw.yaml:3:11: logs[0].type: unknown log source type \"socket\"; use file, child or http"},
      {head + "    type: child\n    path: /var/log/x.log\n" + kRules,
       "bw.yaml:4:11: logs[0].path: only for type: file (this source is type: child)"},
      {head + "    type: http\n    streams: [stdout]\n" + kRules,
       "bw.yaml:4:14: logs[0].streams: only for type: child (this source is type: http)"},
      {head + "    path: /x.log\n    max_body_bytes: 2048\n" + kRules,
       "bw.yaml:4:21: logs[0].max_body_bytes: only for type: http (this source is type: file)"},
      {head + "    type: child\n    streams: [stdout, stdin]\n" + kRules,
       "bw.yaml:4:14: logs[0].streams: unknown stream \"stdin\"; use stdout or stderr"},
      {head + "    type: child\n    streams: [stdout, stdout]\n" + kRules,
       "bw.yaml:4:14: logs[0].streams: \"stdout\" is listed twice"},
      {head + "    type: child\n    streams: []\n" + kRules,
       "bw.yaml:4:14: logs[0].streams: needs stdout, stderr or both"},
      {head + "    type: http\n    format: logfmt\n" + kRules,
       "bw.yaml:4:13: logs[0].format: type: http takes JSON only (NDJSON or a JSON array), not \"logfmt\""},
      {head + "    type: http\n    rate_limit: {requests_per_second: 0}\n" + kRules,
       "bw.yaml:4:39: logs[0].rate_limit.requests_per_second: must be a number above 0 (at most 1000000)"},
      {head + "    type: http\n    rate_limit: {requests_per_secnd: 5}\n" + kRules,
       "bw.yaml:4:18: logs[0].rate_limit: unknown key \"requests_per_secnd\" (did you mean \"requests_per_second\"?)"},
      {head + "    type: http\n    max_body_bytes: 10\n" + kRules, "bw.yaml:4:21: logs[0].max_body_bytes: "},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    auto r = Load(c.text);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.status().message(), Catch::StartsWith(c.message));
  }
}

TEST_CASE("logs config: the commented logs: section of config/botwatch.yaml loads, child and http sources included") {
  std::ifstream in(std::string(BOTWATCH_SOURCE_DIR) + "/config/botwatch.yaml");
  std::string line, text;
  bool in_logs = false;
  while (std::getline(in, line)) {
    if (line == "# logs:") in_logs = true;
    if (!in_logs) continue;
    if (line.rfind("# ---", 0) == 0) break;  // the next section of the file
    text += (line == "#" ? "" : line.substr(line.rfind("# ", 0) == 0 ? 2 : 0)) + "\n";
  }
  REQUIRE(in_logs);
  ConfigSource src;
  src.file = "botwatch.yaml";
  src.dir = std::string(BOTWATCH_SOURCE_DIR) + "/config";
  auto config = LoadConfigText(text, src);
  INFO(text);
  INFO(config.status().message());
  REQUIRE(config.ok());
  std::set<SourceType> types;
  for (const auto& s : config.value()->logs->sources) types.insert(s.type);
  CHECK(types == std::set<SourceType>{SourceType::kFile, SourceType::kChild, SourceType::kHttp});
}
