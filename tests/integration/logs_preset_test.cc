// The shipped preset over a log written by a real Winston logger
// (tests/peers/winston-bot/generate.js, run by the "winston fixture log" CTest
// fixture). The generator is deterministic, so every count is exact.

#include <catch2/catch.hpp>
#include <filesystem>
#include <optional>

#include "tests/support/botwatch_process.h"
#include "tests/support/probe_helpers.h"
#include "tests/support/temp_dir.h"

using namespace botwatch::testing;
using namespace std::chrono_literals;

TEST_CASE("logs: the messenger-bot preset over a real Winston log gives exact counts", "[winston]") {
  REQUIRE(std::filesystem::exists(BOTWATCH_WINSTON_LOG));
  TempDir dir;
  std::string config = dir.Write("botwatch.yaml",
                                 "logs:\n"
                                 "  - name: bot\n"
                                 "    path: " BOTWATCH_WINSTON_LOG "\n"
                                 "    format: json\n"
                                 "    rules: " BOTWATCH_SOURCE_DIR "/config/presets/messenger-bot.yaml\n");
  CommandResult r = RunCommand({BOTWATCH_BINARY, "--one-shot", "--config.file=" + config}, "", 30s);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const std::string& m = r.output;
  auto v = [&](const std::string& series) { return ScrapeValue(m, series).value_or(-1); };

  CHECK(v("botwatch_log_lines_total{source=\"bot\"}") == 569);
  CHECK(v("botwatch_log_parse_errors_total{source=\"bot\"}") == 4);  // stack trace (2), truncated, glued
  CHECK(v("botwatch_log_lines_unmatched_total{source=\"bot\"}") == 47);  // 13 warn retries + 34 noise

  CHECK(v("bot_messages_total{direction=\"inbound\"}") == 200);
  CHECK(v("bot_messages_total{direction=\"outbound\"}") == 200);
  CHECK(v("bot_template_cache_requests_total{result=\"hit\"}") == 67);
  CHECK(v("bot_template_cache_requests_total{result=\"miss\"}") == 67);
  // Warn-level retries carry errorType too and must not count.
  CHECK(v("bot_errors_total{type=\"graph_api\"}") == 9);
  CHECK(v("bot_errors_total{type=\"gemini\"}") == 8);
  CHECK(v("bot_errors_total{type=\"database\"}") == 8);
  CHECK(v("bot_product_inquiries_total{category=\"shoes\"}") == 7);
  CHECK(v("bot_product_inquiries_total{category=\"bags\"}") == 7);
  CHECK(v("bot_product_inquiries_total{category=\"hats\"}") == 6);
  CHECK(v("bot_appointments_booked_total") == 8);
  CHECK(v("bot_human_interventions_total") == 10);
  CHECK(v("bot_human_interventions_pending") == 5);
  CHECK(v("bot_gemini_tokens_total") == 9900);
  CHECK(v("bot_gemini_request_duration_seconds_count") == 50);
  CHECK(v("bot_graph_api_usage_ratio{kind=\"call_count\"}") == Approx(0.95));
  CHECK(v("bot_graph_api_usage_ratio{kind=\"total_time\"}") == Approx(0.04));
  // The last lines carrying X-Page-Usage (i = 196) and X-Business-Use-Case-Usage (i = 198).
  CHECK(v("bot_graph_api_usage_ratio{kind=\"page_call_count\"}") == Approx(0.46));
  CHECK(v("bot_graph_api_usage_ratio{kind=\"page_total_time\"}") == Approx(0.06));
  CHECK(v("bot_graph_api_usage_ratio{kind=\"buc_call_count\"}") == Approx(0.18));
  CHECK(v("bot_graph_api_usage_ratio{kind=\"buc_total_cputime\"}") == Approx(0.09));

  // Response times sit exactly on the bucket bounds (le is inclusive).
  const std::vector<std::pair<std::string, double>> buckets = {
      {"0.1", 46}, {"0.25", 68}, {"0.5", 90}, {"1", 112}, {"2", 134}, {"3", 156},
      {"5", 156},  {"10", 178},  {"30", 178}, {"+Inf", 200}};
  for (const auto& [le, count] : buckets) {
    INFO("le=" << le);
    CHECK(v("bot_response_time_seconds_bucket{le=\"" + le + "\"}") == count);
  }
  CHECK(v("bot_response_time_seconds_count") == 200);

  // 37 distinct users, all within the last 30 minutes of the log.
  for (const char* window : {"30m", "24h", "7d"}) {
    INFO(window);
    CHECK(std::abs(v(std::string("bot_active_users{window=\"") + window + "\"}") - 37) <= 1);
  }
  CommandResult lint = RunCommand({"promtool", "check", "metrics"}, m);
  INFO(lint.output);
  CHECK(lint.exit_code == 0);
}
