// The shipped preset over a log written by a real Winston logger
// (tests/peers/winston-bot/generate.js, run by the "winston fixture log" CTest
// fixture). The generator is deterministic (its clock too), so every count is exact.

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
                                 "    path: " BOTWATCH_WINSTON_LOG
                                 "\n"
                                 "    format: json\n"
                                 "    rules: " BOTWATCH_SOURCE_DIR "/config/presets/messenger-bot.yaml\n");
  CommandResult r = RunCommand({BOTWATCH_BINARY, "--one-shot", "--config.file=" + config}, "", 30s);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const std::string& m = r.output;
  auto v = [&](const std::string& series) { return ScrapeValue(m, series).value_or(-1); };

  CHECK(v("botwatch_log_lines_total{source=\"bot\"}") == 1123);
  CHECK(v("botwatch_log_parse_errors_total{source=\"bot\"}") == 4);  // stack trace (2), truncated, glued
  // 13 warn retries + 34 noise + an SMS status that is not one of the known ones
  CHECK(v("botwatch_log_lines_unmatched_total{source=\"bot\"}") == 48);

  CHECK(v("bot_messages_total{direction=\"inbound\"}") == 200);
  CHECK(v("bot_messages_total{direction=\"outbound\"}") == 200);
  CHECK(v("bot_template_cache_requests_total{result=\"hit\"}") == 67);
  CHECK(v("bot_template_cache_requests_total{result=\"miss\"}") == 67);
  // Warn-level retries carry errorType too and must not count.
  CHECK(v("bot_errors_total{type=\"graph_api\"}") == 9 + 8);  // send failed + send api error
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
  const std::vector<std::pair<std::string, double>> buckets = {{"0.1", 46}, {"0.25", 68}, {"0.5", 90}, {"1", 112},
                                                               {"2", 134},  {"3", 156},   {"5", 156},  {"10", 178},
                                                               {"30", 178}, {"+Inf", 200}};
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
  SECTION("delivery and outcomes") {
    // Messenger: 200 Send API calls, receipts for all but i % 10 == 9, plus one
    // receipt without mids; reads for i % 4 == 0; 8 Send API errors.
    CHECK(v("bot_message_status_total{channel=\"messenger\",status=\"sent\"}") == 200);
    CHECK(v("bot_message_status_total{channel=\"messenger\",status=\"delivered\"}") == 181);
    CHECK(v("bot_message_status_total{channel=\"messenger\",status=\"read\"}") == 50);
    CHECK(v("bot_message_status_total{channel=\"messenger\",status=\"failed\"}") == 8);
    // Receipts 0.3, 0.8, 1.5, 4 and 8 s after the send (the 8 s group loses i % 10 == 9).
    const std::vector<std::pair<std::string, double>> delivery = {{"0.5", 40}, {"1", 80},    {"2", 120},   {"5", 160},
                                                                  {"10", 180}, {"900", 180}, {"+Inf", 180}};
    for (const auto& [le, count] : delivery) {
      INFO("le=" << le);
      CHECK(v("bot_messenger_delivery_seconds_bucket{le=\"" + le + "\"}") == count);
    }
    CHECK(v("bot_messenger_delivery_seconds_sum") == Approx(40 * (0.3 + 0.8 + 1.5 + 4) + 20 * 8).epsilon(1e-6));
    CHECK(v("bot_messenger_delivery_seconds_pending") == 20);
    CHECK(v("bot_messenger_delivery_seconds_unmatched_total") == 1);  // the receipt without mids
    CHECK(v("bot_messenger_delivery_seconds_expired_total") == 0);
    // Known Send API codes are labels; 12345 and a missing code are "other".
    CHECK(v("bot_message_errors_total{channel=\"messenger\",code=\"551\"}") == 2);
    CHECK(v("bot_message_errors_total{channel=\"messenger\",code=\"10\"}") == 1);
    CHECK(v("bot_message_errors_total{channel=\"messenger\",code=\"613\"}") == 1);
    CHECK(v("bot_message_errors_total{channel=\"messenger\",code=\"100\"}") == 1);
    CHECK(v("bot_message_errors_total{channel=\"messenger\",code=\"1200\"}") == 1);
    CHECK(v("bot_message_errors_total{channel=\"messenger\",code=\"other\"}") == 2);
    CHECK(m.find("code=\"12345\"") == std::string::npos);

    // SMS campaign of 40: per 8, five delivered (3, 8, 20, 45, 100 s after queued),
    // one undelivered, one failed, one still at sent.
    CHECK(v("bot_message_status_total{channel=\"sms\",status=\"queued\"}") == 40);
    CHECK(v("bot_message_status_total{channel=\"sms\",status=\"sent\"}") == 35);
    CHECK(v("bot_message_status_total{channel=\"sms\",status=\"delivered\"}") == 25);
    CHECK(v("bot_message_status_total{channel=\"sms\",status=\"undelivered\"}") == 5);
    CHECK(v("bot_message_status_total{channel=\"sms\",status=\"failed\"}") == 5);
    CHECK(m.find("not-a-status") == std::string::npos);
    const std::vector<std::pair<std::string, double>> sms = {{"1", 0},   {"5", 5},    {"10", 10},  {"30", 15},
                                                             {"60", 20}, {"300", 25}, {"+Inf", 25}};
    for (const auto& [le, count] : sms) {
      INFO("le=" << le);
      CHECK(v("bot_sms_delivery_seconds_bucket{le=\"" + le + "\"}") == count);
    }
    CHECK(v("bot_sms_delivery_seconds_pending") == 15);
    CHECK(v("bot_sms_delivery_seconds_unmatched_total") == 0);
    // 21211 once as a number and once as Twilio's string; 12345 is not a known code.
    CHECK(v("bot_message_errors_total{channel=\"sms\",code=\"21211\"}") == 2);
    CHECK(v("bot_message_errors_total{channel=\"sms\",code=\"21614\"}") == 1);
    CHECK(v("bot_message_errors_total{channel=\"sms\",code=\"21610\"}") == 1);
    CHECK(v("bot_message_errors_total{channel=\"sms\",code=\"30003\"}") == 2);
    CHECK(v("bot_message_errors_total{channel=\"sms\",code=\"30005\"}") == 1);
    CHECK(v("bot_message_errors_total{channel=\"sms\",code=\"30007\"}") == 1);
    CHECK(v("bot_message_errors_total{channel=\"sms\",code=\"30034\"}") == 1);
    CHECK(v("bot_message_errors_total{channel=\"sms\",code=\"other\"}") == 1);

    // Fallback answers: template "fallback" (i % 10 == 5) or fallback: true (i % 50 == 7).
    CHECK(v("bot_fallback_responses_total") == 24);
    // The last of four `db pool` lines (i = 199).
    CHECK(v("bot_db_pool_clients{state=\"total\"}") == 4);
    CHECK(v("bot_db_pool_clients{state=\"idle\"}") == 1);
    CHECK(v("bot_db_pool_waiting_requests") == 3);
    CHECK(v("bot_db_pool_max_clients") == 4);
    // Webhook POSTs of 0.05 to 45 s, 25 of each.
    const std::vector<std::pair<std::string, double>> webhook = {{"0.1", 25}, {"0.5", 50},  {"1", 75},   {"2", 100},
                                                                 {"5", 125},  {"10", 125},  {"20", 150}, {"30", 175},
                                                                 {"60", 200}, {"+Inf", 200}};
    for (const auto& [le, count] : webhook) {
      INFO("le=" << le);
      CHECK(v("bot_webhook_processing_seconds_bucket{le=\"" + le + "\"}") == count);
    }
  }

  CommandResult lint = RunCommand({"promtool", "check", "metrics"}, m);
  INFO(lint.output);
  CHECK(lint.exit_code == 0);
}
