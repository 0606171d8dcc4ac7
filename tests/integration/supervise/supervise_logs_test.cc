// Supervise mode feeding the log pipeline: a real child prints Winston-style
// JSON lines (split across reads, CRLF, an over-long line, stderr too, a last
// line without newline when it crashes); the shipped preset must count them
// exactly, the output must still pass through byte for byte, and a reload
// must keep the counts.

#include <unistd.h>

#include <catch2/catch.hpp>
#include <thread>

#include "tests/support/botwatch_process.h"
#include "tests/support/http_client.h"
#include "tests/support/supervised_run.h"
#include "tests/support/temp_dir.h"

using namespace botwatch::testing;
using namespace std::chrono_literals;

namespace {

std::optional<double> Sample(const std::string& metrics, const std::string& series) {
  size_t pos = metrics.find("\n" + series + " ");
  if (pos == std::string::npos) return std::nullopt;
  return std::stod(metrics.substr(pos + series.size() + 2));
}

std::string Processed(int i) {
  return "{\"level\":\"info\",\"message\":\"message processed\",\"userId\":\"u" + std::to_string(i % 9) +
         "\",\"responseTime\":250,\"template\":\"greeting\",\"cacheHit\":" + (i % 2 ? "true" : "false") + "}";
}

}  // namespace

TEST_CASE("supervise: the child's output feeds a type: child log source with exact counts, and passes through") {
  TempDir dir;
  const std::string d = dir.path();
  std::string config = dir.Write("botwatch.yaml",
                                 "logs:\n"
                                 "  - name: bot\n"
                                 "    type: child\n"
                                 "    format: json\n"
                                 "    max_line_bytes: 512\n"
                                 "    rules: " BOTWATCH_SOURCE_DIR "/config/presets/messenger-bot.yaml\n");
  // Phase 1 (stdout): 30 processed + 30 sent (CRLF), an error line split
  // across two writes 300 ms apart, an over-long line.
  std::string p1, p2, p3, p4, e1;
  for (int i = 0; i < 30; ++i)
    p1 += Processed(i) + "\n{\"level\":\"info\",\"message\":\"message sent\",\"userId\":\"u1\"}\r\n";
  p1 += "{\"level\":\"error\",\"message\":\"send fa";
  p2 = "iled\",\"errorType\":\"gemini\",\"userId\":\"u3\"}\n{\"level\":\"info\",\"message\":\"" +
       std::string(600, 'x') + "\"}\n";
  e1 = "plain text on stderr\n{\"level\":\"info\",\"message\":\"appointment booked\",\"userId\":\"u4\"}\n";
  // Phase 2, after a reload: 10 processed, then a last line without newline and a crash.
  for (int i = 30; i < 40; ++i) p3 += Processed(i) + "\n";
  p4 = "{\"level\":\"info\",\"message\":\"appointment booked\",\"userId\":\"u5\"}";
  for (auto& [name, text] :
       std::vector<std::pair<std::string, std::string>>{{"p1", p1}, {"p2", p2}, {"p3", p3}, {"p4", p4}, {"e1", e1}}) {
    dir.Write(name, text);
  }
  const std::string script =
      "cd '" + d +
      "'; "
      "if [ -e ran ]; then echo second-run; while [ ! -e stop ]; do sleep 0.02; done; exit 0; fi; "
      "touch ran; cat p1; sleep 0.3; cat p2; cat e1 >&2; echo ready; "
      "while [ ! -e go ]; do sleep 0.02; done; cat p3; echo phase2; cat p4; exit 3";
  SupervisedRun run(dir.path(), config, script,
                    {"--supervise.restart=on-failure", "--supervise.restart-backoff=100ms"});
  REQUIRE(Eventually([&] { return run.Stdout().find("ready\n") != std::string::npos; }, 15s));
  std::string url;
  REQUIRE(Eventually([&] { return !(url = run.Url("/metrics")).empty(); }, 5s));
  std::string m;
  auto v = [&](const std::string& series) { return Sample(m, series).value_or(-1); };
  // 60 JSON lines + the split error line + the long line + "ready" + 2 stderr lines.
  REQUIRE(Eventually(
      [&] {
        m = HttpGet(url).body;
        return v("botwatch_log_lines_total{source=\"bot\"}") == 65;
      },
      10s));
  CHECK(v("botwatch_log_parse_errors_total{source=\"bot\"}") == 3);  // long line, "ready", plain text
  CHECK(v("bot_messages_total{direction=\"inbound\"}") == 30);
  CHECK(v("bot_messages_total{direction=\"outbound\"}") == 30);
  CHECK(v("bot_template_cache_requests_total{result=\"hit\"}") == 15);
  CHECK(v("bot_template_cache_requests_total{result=\"miss\"}") == 15);
  CHECK(v("bot_errors_total{type=\"gemini\"}") == 1);
  CHECK(v("bot_appointments_booked_total") == 1);

  // A reload keeps the counts; then the child goes on and crashes mid-line.
  REQUIRE(HttpPost(run.Url("/-/reload")).status == 200);
  m = HttpGet(url).body;
  CHECK(v("bot_messages_total{direction=\"inbound\"}") == 30);
  CHECK(v("botwatch_log_lines_total{source=\"bot\"}") == 65);
  dir.Write("go", "");
  REQUIRE(Eventually([&] { return run.Stdout().find("second-run\n") != std::string::npos; }, 15s));
  // + 10 processed, "phase2", the unterminated last line (flushed when the
  // child exited), "second-run".
  REQUIRE(Eventually(
      [&] {
        m = HttpGet(url).body;
        return v("botwatch_log_lines_total{source=\"bot\"}") == 78;
      },
      10s));
  CHECK(v("botwatch_log_parse_errors_total{source=\"bot\"}") == 5);
  CHECK(v("bot_messages_total{direction=\"inbound\"}") == 40);
  CHECK(v("bot_messages_total{direction=\"outbound\"}") == 30);
  CHECK(v("bot_appointments_booked_total") == 2);
  CHECK(v("bot_errors_total{type=\"gemini\"}") == 1);
  CommandResult lint = RunCommand({"promtool", "check", "metrics"}, m);
  INFO(lint.output);
  CHECK(lint.exit_code == 0);

  dir.Write("stop", "");
  CHECK(run.WaitExit(15s) == 0);
  CHECK(run.Stdout() == p1 + p2 + "ready\n" + p3 + "phase2\n" + p4 + "second-run\n");
  CHECK(run.Stderr().find(e1) != std::string::npos);
}
