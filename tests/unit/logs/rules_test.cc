// Rules: each match operator and metric type, label bounds, and config errors
// with file:line:column. Lines go in through LogPipeline::Ingest, the entry any
// source uses.

#include <catch2/catch.hpp>

#include <cmath>

#include "agent/config.h"
#include "logs/log_config.h"
#include "logs/pipeline.h"
#include "prom/text_writer.h"
#include "tests/support/temp_dir.h"

using botwatch::LogPipeline;

namespace {

botwatch::ConfigSource Source() {
  botwatch::ConfigSource s;
  s.file = "rules.yaml";
  s.dir = "/nonexistent";
  s.env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  return s;
}

// A config with one log source, `app`, holding `rules` and the `extra` source keys.
std::string ConfigText(const std::string& rules, const std::string& extra) {
  return "logs:\n"
         "  - name: app\n"
         "    path: /nonexistent/*.log\n" +
         extra + "    rules:\n" + rules;
}

std::shared_ptr<const botwatch::Config> Load(const std::string& rules, const std::string& extra = "") {
  auto config = botwatch::LoadConfigText(ConfigText(rules, extra), Source());
  INFO(config.status().message());
  REQUIRE(config.ok());
  return config.value();
}

std::string LoadError(const std::string& rules, const std::string& extra = "") {
  auto config = botwatch::LoadConfigText(ConfigText(rules, extra), Source());
  return config.ok() ? "" : config.status().message();
}

void Feed(LogPipeline& p, std::initializer_list<std::string> lines) {
  for (const auto& l : lines) REQUIRE(p.Ingest("app", l).ok());
}

double Value(const LogPipeline& p, const std::string& metric, std::vector<std::string> labels = {}) {
  return p.store().ValueForTesting(metric, labels);
}

std::string Text(const LogPipeline& p) { return botwatch::SerializeFamilies(p.Expose()); }

// Writes a botwatch.yaml in `dir` with one log source, `name`, reading dir/*.log with the shipped preset.
std::string WritePresetConfig(const botwatch::testing::TempDir& dir, const std::string& name) {
  return dir.Write("botwatch.yaml", "logs:\n  - {name: " + name + ", path: '" + dir.path() + "/*.log', rules: " +
                                        BOTWATCH_SOURCE_DIR "/config/presets/messenger-bot.yaml}\n");
}

}  // namespace

TEST_CASE("match operators: equals, one_of, regex, exists, numeric, all and any") {
  auto config = Load(
      "      - {metric: eq_total, type: counter, match: {field: msg, equals: hello}}\n"
      "      - {metric: ne_total, type: counter, match: {field: msg, not_equals: hello}}\n"
      "      - {metric: oneof_total, type: counter, match: {field: level, one_of: [warn, error]}}\n"
      "      - {metric: re_total, type: counter, match: {field: msg, regex: '^he.*o$'}}\n"
      "      - {metric: exists_total, type: counter, match: {field: user.id, exists: true}}\n"
      "      - {metric: absent_total, type: counter, match: {field: user.id, exists: false}}\n"
      "      - {metric: gt_total, type: counter, match: {field: ms, gt: 100}}\n"
      "      - {metric: gte_total, type: counter, match: {field: ms, gte: 100}}\n"
      "      - {metric: lt_total, type: counter, match: {field: ms, lt: 100}}\n"
      "      - {metric: lte_total, type: counter, match: {field: ms, lte: 100}}\n"
      "      - metric: all_total\n"
      "        type: counter\n"
      "        match: {all: [{field: msg, equals: hello}, {any: [{field: level, equals: error}, {field: ms, gt: "
      "500}]}]}\n");
  LogPipeline p(config->logs);
  Feed(p, {
              R"({"msg":"hello","level":"info","ms":100,"user":{"id":"u1"}})",
              R"({"msg":"hello","level":"error","ms":"99.5"})",
              R"({"msg":"hello","level":"warn","ms":501})",
              R"({"msg":"bye","level":"error","ms":"not a number"})",
              R"({"level":"debug","user":{"id":null}})",
          });
  CHECK(Value(p, "eq_total") == 3);
  CHECK(Value(p, "ne_total") == 2);  // "bye" and the line without msg
  CHECK(Value(p, "oneof_total") == 3);
  CHECK(Value(p, "re_total") == 3);
  CHECK(Value(p, "exists_total") == 1);  // null is not "exists"
  CHECK(Value(p, "absent_total") == 4);
  CHECK(Value(p, "gt_total") == 1);
  CHECK(Value(p, "gte_total") == 2);
  CHECK(Value(p, "lt_total") == 1);  // "99.5" as a string still compares as a number
  CHECK(Value(p, "lte_total") == 2);
  CHECK(Value(p, "all_total") == 2);
}

TEST_CASE("counters, gauges and histograms update as configured") {
  auto config = Load(
      "      - {metric: hits_total, type: counter, match: {field: m, equals: a}, labels: {kind: a}}\n"
      "      - {metric: tokens_total, type: counter, value_field: tokens}\n"
      "      - {metric: last_tokens, type: gauge, value_field: tokens}\n"
      "      - {metric: last_seen_timestamp_seconds, type: gauge, action: set_timestamp, match: {field: m, equals: "
      "a}}\n"
      "      - {metric: pending, type: gauge, action: inc, match: {field: m, equals: open}}\n"
      "      - {metric: pending, type: gauge, action: dec, match: {field: m, equals: close}}\n"
      "      - metric: latency_seconds\n"
      "        type: histogram\n"
      "        value_field: ms\n"
      "        scale: 0.001\n"
      "        buckets: [0.1, 0.5, 1]\n");
  LogPipeline p(config->logs);
  Feed(p, {
              R"({"m":"a","tokens":10,"ms":100,"timestamp":"2026-11-22T10:00:00.5Z"})",
              R"({"m":"open","tokens":5.5,"ms":500})",
              R"({"m":"open","ms":1000})",
              R"({"m":"close","tokens":-3,"ms":1000.5})",
              R"({"m":"b","tokens":"7","ms":"oops"})",
          });
  CHECK(Value(p, "hits_total", {"a"}) == 1);
  CHECK(Value(p, "tokens_total") == 22.5);  // negative adds are ignored: counters never go down
  CHECK(Value(p, "last_tokens") == 7);
  CHECK(Value(p, "last_seen_timestamp_seconds") == Approx(1795341600.5));
  CHECK(Value(p, "pending") == 1);
  std::string text = Text(p);
  // Bounds are inclusive (le): 100 ms -> 0.1, 500 ms -> 0.5, 1000 ms -> 1, 1000.5 -> +Inf.
  CHECK(text.find("latency_seconds_bucket{le=\"0.1\"} 1\n") != std::string::npos);
  CHECK(text.find("latency_seconds_bucket{le=\"0.5\"} 2\n") != std::string::npos);
  CHECK(text.find("latency_seconds_bucket{le=\"1\"} 3\n") != std::string::npos);
  CHECK(text.find("latency_seconds_bucket{le=\"+Inf\"} 4\n") != std::string::npos);
  CHECK(text.find("latency_seconds_count 4\n") != std::string::npos);
  CHECK(text.find("botwatch_log_lines_total{source=\"app\"} 5\n") != std::string::npos);
}

TEST_CASE("labels from fields are bounded and fold into __overflow__") {
  auto config =
      Load("      - {metric: inquiries_total, type: counter, label_fields: {category: category}, max_series: 3}\n");
  LogPipeline p(config->logs);
  Feed(p,
       {R"({"category":"a"})", R"({"category":"b"})", R"({"category":"a"})", R"({"category":"c"})",
        R"({"category":"d"})", R"({"category":"e"})", R"({"category":"d"})", R"({"category":"b"})", R"({"other":1})"});
  CHECK(Value(p, "inquiries_total", {"a"}) == 2);
  CHECK(Value(p, "inquiries_total", {"b"}) == 2);
  CHECK(Value(p, "inquiries_total", {"c"}) == 1);
  // The missing field fell in the bound as well ("unknown" is a 4th label set).
  CHECK(Value(p, "inquiries_total", {"__overflow__"}) == 4);
  CHECK(std::isnan(Value(p, "inquiries_total", {"d"})));
  CHECK(Text(p).find("botwatch_log_series_dropped_total{metric=\"inquiries_total\"} 4\n") != std::string::npos);
}

TEST_CASE("logfmt label values that are not UTF-8 are replaced") {
  auto config =
      Load("      - {metric: by_user_agent_total, type: counter, label_fields: {agent: ua}}\n", "    format: logfmt\n");
  LogPipeline p(config->logs);
  Feed(p, {"ua=\xff\xfe"});
  CHECK(Value(p, "by_user_agent_total", {"__invalid_utf8__"}) == 1);
}

TEST_CASE("distinct metrics export one gauge per window") {
  auto config = Load("      - {metric: active_users, type: distinct, value_field: userId, windows: [30m, 24h]}\n",
                     "    identifiers: [userId]\n");
  LogPipeline p(config->logs);
  for (int i = 0; i < 300; ++i) {
    Feed(p, {R"({"userId":"u)" + std::to_string(i % 120) + R"(","timestamp":"2026-11-22T10:00:00Z"})"});
  }
  p.RunOnce();  // no files: switches the clock to the latest event time
  // 120 distinct users; HyperLogLog's standard error is 1.6 %.
  std::string text = Text(p);
  for (const char* window : {"30m", "24h"}) {
    std::string series = std::string("active_users{window=\"") + window + "\"} ";
    size_t pos = text.find(series);
    REQUIRE(pos != std::string::npos);
    double v = std::stod(text.substr(pos + series.size()));
    CHECK(std::abs(v - 120) <= 120 * 3 * 0.0163);
  }
}

TEST_CASE("rule config errors name file, line and column") {
  CHECK(LoadError("      - {metric: x_total, type: counter, label_fields: {user: userId}}\n",
                  "    identifiers: [userId]\n") ==
        "rules.yaml:6:56: logs[0].rules[0].label_fields: field \"userId\" is declared an identifier and may never "
        "be a label (it would create one series per user)");
  CHECK(LoadError("      - {metric: 'bad-name', type: counter}\n") ==
        "rules.yaml:5:18: logs[0].rules[0].metric: invalid metric name \"bad-name\"");
  CHECK(LoadError("      - {metric: x, type: countr}\n") ==
        "rules.yaml:5:27: logs[0].rules[0].type: unknown metric type \"countr\" (did you mean \"counter\"?); "
        "use counter, gauge, histogram, distinct, duration or session");
  CHECK(LoadError("      - {metric: x_total, type: counter, match: {field: a, regex: '(unclosed'}}\n")
            .rfind("rules.yaml:5:67: logs[0].rules[0].match.regex: invalid regular expression \"(unclosed\"", 0) == 0);
  CHECK(LoadError("      - {metric: x, type: histogram}\n") ==
        "rules.yaml:5:9: logs[0].rules[0].value_field: missing required field (the value to observe)");
  CHECK(LoadError("      - {metric: x_total, type: counter, labels: {le: a}}\n") == "");
  CHECK(LoadError("      - {metric: x, type: histogram, value_field: v, labels: {le: a}}\n") ==
        "rules.yaml:5:62: logs[0].rules[0].labels: invalid label name \"le\"");
  CHECK(LoadError(
            "      - {metric: x, type: gauge, action: inc}\n      - {metric: x, type: histogram, value_field: v}\n") ==
        "rules.yaml:6:18: logs[0].rules[1].metric: metric \"x\" is already defined with a different type, labels, "
        "buckets or windows");
  CHECK(LoadError("      - {metric: x_total, type: counter, colour: red}\n") ==
        "rules.yaml:5:42: logs[0].rules[0]: unknown key \"colour\"");
  CHECK(LoadError("      - {metric: x_total, type: counter}\n", "    format: xml\n") ==
        "rules.yaml:4:13: logs[0].format: unknown format \"xml\"; use json, logfmt or regex");
  CHECK(LoadError("      - {metric: x_total, type: counter}\n",
                  "    format: regex\n    regex: '(a)(b)'\n    fields: [a]\n") ==
        "rules.yaml:6:13: logs[0].fields: the regex has 2 capture groups but 1 field names are given");
  CHECK(LoadError("      - {metric: x_total, type: counter}\n",
                  "    format: regex\n    regex: '(?<a>x)'\n    fields: [a]\n") ==
        "rules.yaml:6:13: logs[0].fields: the regex names its groups with (?<name>...); remove fields:");
  CHECK(LoadError("      - {metric: x_total, type: counter}\n", "    format: regex\n    regex: 'a(?<9>x)'\n") ==
        "rules.yaml:5:12: logs[0].regex: invalid group name at offset 1: use (?<name>...) with letters, digits, "
        "'_' or '.'");
  // Names that would break the exposition: promtool's counter/_total rules, and
  // botwatch's own prefixes (a rule there would join botwatch's families).
  CHECK(
      LoadError("      - {metric: bot_x, type: counter}\n") ==
      "rules.yaml:5:18: logs[0].rules[0].metric: counter \"bot_x\" must end in _total (did you mean \"bot_x_total\"?)");
  CHECK(LoadError("      - {metric: bot_users_total, type: gauge, action: inc}\n") ==
        "rules.yaml:5:18: logs[0].rules[0].metric: only counters end in _total, \"bot_users_total\" is not one (did "
        "you mean \"bot_users\"?)");
  CHECK(LoadError("      - {metric: botwatch_collector_up, type: gauge, action: inc}\n") ==
        "rules.yaml:5:18: logs[0].rules[0].metric: metric name \"botwatch_collector_up\" is under \"botwatch_\", which "
        "botwatch reserves for its own metrics (use your bot's prefix, e.g. \"bot_collector_up\")");
  CHECK(LoadError("      - {metric: process_lines_total, type: counter}\n")
            .find("is under \"process_\", which botwatch reserves") != std::string::npos);
  CHECK(LoadError("      presets/none.yaml\n").find("cannot open rules file \"/nonexistent/presets/none.yaml\"") !=
        std::string::npos);
}

TEST_CASE("the shipped preset loads and keeps identifiers out of labels") {
  botwatch::testing::TempDir dir;
  auto config = botwatch::LoadConfigFile(WritePresetConfig(dir, "bot"));
  INFO(config.status().message());
  REQUIRE(config.ok());
  const auto& rules = *config.value()->logs->sources.at(0).rules;
  CHECK(rules.identifiers.count("userId") == 1);
  for (const auto& m : rules.metrics) {
    for (const auto& l : m.label_names) CHECK(rules.identifiers.count(l) == 0);
  }
}

TEST_CASE("the shipped preset times a hand-off from the request to the person's first reply") {
  botwatch::testing::TempDir dir;
  auto config = botwatch::LoadConfigFile(WritePresetConfig(dir, "app"));
  INFO(config.status().message());
  REQUIRE(config.ok());
  LogPipeline p(config.value()->logs);
  Feed(
      p,
      {
          R"({"timestamp":"2026-01-01T10:00:00Z","level":"info","message":"human intervention requested","userId":"u1"})",
          R"({"timestamp":"2026-01-01T10:01:00Z","level":"info","message":"human intervention requested","userId":"u2"})",
          // u1's person answers after 4 minutes, then twice more: only the first counts.
          R"({"timestamp":"2026-01-01T10:04:00Z","level":"info","message":"human agent replied","userId":"u1"})",
          R"({"timestamp":"2026-01-01T10:05:00Z","level":"info","message":"human agent replied","userId":"u1"})",
          R"({"timestamp":"2026-01-01T10:06:00Z","level":"info","message":"human intervention resolved","userId":"u1"})",
      });
  std::string text = Text(p);
  INFO(text);
  CHECK(text.find("bot_human_handoff_wait_seconds_count 1\n") != std::string::npos);
  CHECK(text.find("bot_human_handoff_wait_seconds_sum 240\n") != std::string::npos);
  CHECK(text.find("bot_human_handoff_wait_seconds_bucket{le=\"300\"} 1\n") != std::string::npos);
  CHECK(text.find("bot_human_handoff_wait_seconds_bucket{le=\"120\"} 0\n") != std::string::npos);
  CHECK(Value(p, "bot_human_handoff_wait_seconds_pending") == 1);  // u2 still waits
  CHECK(Value(p, "bot_human_handoff_wait_seconds_unmatched_total") == 1);
  CHECK(Value(p, "bot_human_interventions_pending") == 1);
  // The user id never becomes a label.
  CHECK(text.find("u1") == std::string::npos);
  (void)p.Stop();
}

TEST_CASE("a reload keeps the counts of unchanged metrics and resets changed ones") {
  auto before = Load(
      "      - {metric: kept_total, type: counter, label_fields: {kind: k}}\n"
      "      - {metric: rebucketed_seconds, type: histogram, value_field: v, buckets: [1, 2]}\n");
  LogPipeline old(before->logs);
  Feed(old, {R"({"k":"a","v":1})", R"({"k":"b","v":3})", R"({"k":"a","v":2})"});
  nlohmann::json state = old.Stop();

  auto after = Load(
      "      - {metric: kept_total, type: counter, label_fields: {kind: k}}\n"
      "      - {metric: rebucketed_seconds, type: histogram, value_field: v, buckets: [1, 5]}\n"
      "      - {metric: new_total, type: counter}\n");
  LogPipeline fresh(after->logs);
  fresh.Start(&state);
  Feed(fresh, {R"({"k":"a","v":4})"});
  CHECK(Value(fresh, "kept_total", {"a"}) == 3);
  CHECK(Value(fresh, "kept_total", {"b"}) == 1);
  CHECK(Value(fresh, "new_total") == 1);
  std::string text = Text(fresh);
  CHECK(text.find("rebucketed_seconds_count 1\n") != std::string::npos);
  CHECK(text.find("botwatch_log_lines_total{source=\"app\"} 4\n") != std::string::npos);
  (void)fresh.Stop();
}

TEST_CASE("duration rules pair start and end by key, count the unpaired and expire by time and bound") {
  auto config = Load(
      "      - metric: bot_delivery_seconds\n"
      "        type: duration\n"
      "        help: Time from sending a message to its delivery receipt.\n"
      "        start: {field: message, equals: message sent}\n"
      "        end: {field: message, equals: message delivered}\n"
      "        key_field: messageId\n"
      "        timeout: 1h\n"
      "        max_pending: 2\n"
      "        buckets: [1, 5, 30, 60, 300, 900]\n",
      "    identifiers: [messageId]\n");
  LogPipeline p(config->logs);
  Feed(p, {
              R"({"timestamp":"2026-01-01T00:00:00Z","message":"message sent","messageId":"m1"})",
              R"({"timestamp":"2026-01-01T00:00:03Z","message":"message delivered","messageId":"m1"})",
              // a second end for the same key, and an end that never started
              R"({"timestamp":"2026-01-01T00:00:04Z","message":"message delivered","messageId":"m1"})",
              R"({"timestamp":"2026-01-01T00:00:05Z","message":"message delivered","messageId":"zz"})",
              R"({"timestamp":"2026-01-01T00:00:05Z","message":"message sent","messageId":"m2"})",
          });
  CHECK(Text(p).find("bot_delivery_seconds_count 1\n") != std::string::npos);
  CHECK(Text(p).find("bot_delivery_seconds_sum 3\n") != std::string::npos);
  CHECK(Value(p, "bot_delivery_seconds_unmatched_total") == 2);
  CHECK(Value(p, "bot_delivery_seconds_pending") == 1);
  CHECK(Value(p, "bot_delivery_seconds_expired_total") == 0);
  // Past max_pending (2) the oldest open start (m2) expires early.
  Feed(p, {
              R"({"timestamp":"2026-01-01T00:00:06Z","message":"message sent","messageId":"m3"})",
              R"({"timestamp":"2026-01-01T00:00:07Z","message":"message sent","messageId":"m4"})",
              R"({"timestamp":"2026-01-01T00:00:08Z","message":"message delivered","messageId":"m2"})",
          });
  CHECK(Value(p, "bot_delivery_seconds_expired_total") == 1);
  CHECK(Value(p, "bot_delivery_seconds_unmatched_total") == 3);
  CHECK(Value(p, "bot_delivery_seconds_pending") == 2);
  // An hour of event time later the rest time out.
  Feed(p, {R"({"timestamp":"2026-01-01T01:00:07Z","message":"other"})"});
  CHECK(Value(p, "bot_delivery_seconds_expired_total") == 3);
  CHECK(Value(p, "bot_delivery_seconds_pending") == 0);
  std::string text = Text(p);
  CHECK(text.find("bot_delivery_seconds_bucket{le=\"5\"} 1") != std::string::npos);
  CHECK(text.find("m1") == std::string::npos);
}

TEST_CASE("duration rules keep open starts across a stop/start handover and expire them on a quiet log") {
  const std::string rule =
      "      - metric: bot_delivery_seconds\n"
      "        type: duration\n"
      "        start: {field: message, equals: message sent}\n"
      "        end: {field: message, equals: message delivered}\n"
      "        key_field: messageId\n"
      "        timeout: 1h\n";
  auto config = Load(rule);
  nlohmann::json state;
  {
    LogPipeline p(config->logs);
    p.Start(nullptr);
    Feed(p, {R"({"timestamp":"2026-01-01T00:00:00Z","message":"message sent","messageId":"m1"})",
             R"({"timestamp":"2026-01-01T00:00:01Z","message":"message sent","messageId":"m2"})"});
    state = p.Stop();
  }
  REQUIRE(state["pending"]["app"]["rules"].size() == 1);
  // A new pipeline (restart or reload of the same rule) pairs the ends with the saved starts.
  auto reloaded = Load(rule);
  LogPipeline q(reloaded->logs);
  q.Start(&state);
  CHECK(Value(q, "bot_delivery_seconds_pending") == 2);
  Feed(q, {R"({"timestamp":"2026-01-01T00:00:05Z","message":"message delivered","messageId":"m1"})"});
  CHECK(Text(q).find("bot_delivery_seconds_sum 5\n") != std::string::npos);
  CHECK(Value(q, "bot_delivery_seconds_unmatched_total") == 0);
  CHECK(Value(q, "bot_delivery_seconds_pending") == 1);
  (void)q.Stop();

  // A changed rule (other end condition) does not inherit the keys.
  auto changed = Load(
      "      - metric: bot_delivery_seconds\n"
      "        type: duration\n"
      "        start: {field: message, equals: message sent}\n"
      "        end: {field: message, equals: message read}\n"
      "        key_field: messageId\n");
  LogPipeline c(changed->logs);
  c.Start(&state);
  CHECK(Value(c, "bot_delivery_seconds_pending") == 0);
  (void)c.Stop();
}

TEST_CASE("duration rules expire on the event clock advanced by wall time while the log is quiet") {
  auto config = Load(
      "      - metric: bot_delivery_seconds\n"
      "        type: duration\n"
      "        start: {field: message, equals: message sent}\n"
      "        end: {field: message, equals: message delivered}\n"
      "        key_field: messageId\n"
      "        timeout: 1h\n");
  const auto& source = config->logs->sources[0];
  botwatch::MetricStore store(config->logs->metrics, {"app"});
  botwatch::RuleEngine engine(source.rules, store);
  botwatch::JsonParser parser(source.rules->fields);
  botwatch::Event e;
  e.Reset(source.rules->fields.size());
  REQUIRE(parser.Parse(R"({"message":"message sent","messageId":"m1"})", e));
  const double t0 = 1767225600;  // the start's event time
  const double wall = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  {
    botwatch::MetricStore::Update u(store);
    engine.Apply(u, e, t0);
    engine.Tick(u, wall + 1800);  // half the timeout of quiet
  }
  CHECK(store.ValueForTesting("bot_delivery_seconds_pending", {}) == 1);
  {
    botwatch::MetricStore::Update u(store);
    engine.Tick(u, wall + 3700);  // past it: expired although no later line came
  }
  CHECK(store.ValueForTesting("bot_delivery_seconds_pending", {}) == 0);
  CHECK(store.ValueForTesting("bot_delivery_seconds_expired_total", {}) == 1);
}

namespace {

const char* kSessionRule =
    "      - metric: bot_conversation\n"
    "        type: session\n"
    "        help: Conversations with the bot.\n"
    "        match: {field: message, one_of: [message received, response sent]}\n"
    "        key_field: userId\n"
    "        gap: 30m\n"
    "        outcomes:\n"
    "          - {name: booked, match: {field: message, equals: booking confirmed}}\n"
    "          - {name: handed_off, match: {field: message, equals: human handoff requested}}\n"
    "        default_outcome: abandoned\n"
    "        duration_buckets: [60, 600, 3600]\n"
    "        message_buckets: [1, 2, 5, 10]\n";

std::string At(const std::string& hms, const std::string& message, const std::string& user) {
  return R"({"timestamp":"2026-01-01T)" + hms + R"(Z","message":")" + message + R"(","userId":")" + user + "\"}";
}

}  // namespace

TEST_CASE("session rules end a conversation after a gap and observe its length and messages by outcome") {
  auto config = Load(kSessionRule, "    identifiers: [userId]\n");
  LogPipeline p(config->logs);
  // Every outcome is exported at 0 before any conversation ended.
  CHECK(Text(p).find("bot_conversation_duration_seconds_count{outcome=\"booked\"} 0\n") != std::string::npos);
  CHECK(Text(p).find("bot_conversation_messages_count{outcome=\"abandoned\"} 0\n") != std::string::npos);
  Feed(p, {
              At("00:00:00", "message received", "u1"), At("00:00:02", "response sent", "u1"),
              At("00:01:00", "message received", "u2"),
              At("00:05:00", "booking confirmed", "u1"),  // an outcome, not a message
              At("00:06:00", "message received", "u1"),   // chatting on after booking: still booked
              At("00:10:00", "unrelated line", "u2"),     // neither a message nor an outcome
          });
  CHECK(Value(p, "bot_conversation_active") == 2);
  CHECK(Text(p).find("bot_conversation_duration_seconds_count{outcome=\"booked\"} 0\n") != std::string::npos);
  // u2 said one thing at 00:01 and went quiet: the event clock passing 00:31 ends it.
  Feed(p, {At("00:31:00", "message received", "u3")});
  std::string text = Text(p);
  CHECK(text.find("bot_conversation_messages_count{outcome=\"abandoned\"} 1\n") != std::string::npos);
  CHECK(text.find("bot_conversation_messages_sum{outcome=\"abandoned\"} 1\n") != std::string::npos);
  CHECK(text.find("bot_conversation_duration_seconds_sum{outcome=\"abandoned\"} 0\n") != std::string::npos);
  CHECK(Value(p, "bot_conversation_active") == 2);
  // u1 comes back 40 minutes after its last event: the first conversation ends, a second begins.
  Feed(p, {At("00:46:00", "message received", "u1")});
  text = Text(p);
  CHECK(text.find("bot_conversation_duration_seconds_count{outcome=\"booked\"} 1\n") != std::string::npos);
  CHECK(text.find("bot_conversation_duration_seconds_sum{outcome=\"booked\"} 360\n") != std::string::npos);
  CHECK(text.find("bot_conversation_duration_seconds_bucket{outcome=\"booked\",le=\"600\"} 1\n") != std::string::npos);
  CHECK(text.find("bot_conversation_messages_sum{outcome=\"booked\"} 3\n") != std::string::npos);
  CHECK(text.find("bot_conversation_messages_bucket{outcome=\"booked\",le=\"2\"} 0\n") != std::string::npos);
  CHECK(Value(p, "bot_conversation_active") == 2);  // u3 and u1's second
  // A hand-off after a booking: the last outcome decides.
  Feed(p, {At("00:47:00", "booking confirmed", "u1"), At("00:48:00", "human handoff requested", "u1"),
           At("02:00:00", "message received", "u9")});
  text = Text(p);
  CHECK(text.find("bot_conversation_duration_seconds_count{outcome=\"handed_off\"} 1\n") != std::string::npos);
  CHECK(text.find("bot_conversation_duration_seconds_count{outcome=\"booked\"} 1\n") != std::string::npos);
  CHECK(text.find("bot_conversation_duration_seconds_count{outcome=\"abandoned\"} 2\n") !=
        std::string::npos);  // u2, u3
  CHECK(Value(p, "bot_conversation_active") == 1);
  CHECK(Value(p, "bot_conversation_evicted_total") == 0);
  // Identifiers never reach the exposition.
  CHECK(text.find("u1") == std::string::npos);
}

TEST_CASE("session rules bound open conversations and outcome values") {
  auto config = Load(
      "      - metric: bot_chat\n"
      "        type: session\n"
      "        key_field: userId\n"
      "        gap: 10m\n"
      "        max_active: 2\n"
      "        outcome_field: stage\n"
      "        max_outcomes: 4\n");
  LogPipeline p(config->logs);
  auto line = [](const std::string& hms, const std::string& user, const std::string& stage) {
    return R"({"timestamp":"2026-01-01T)" + hms + R"(Z","userId":")" + user + R"(","stage":")" + stage + "\"}";
  };
  Feed(p, {line("00:00:00", "a", "greeting"), line("00:00:01", "b", "menu"), line("00:00:02", "a", "paid"),
           line("00:00:03", "c", "x")});
  // Past max_active (2), the least recently active (b) is dropped, not observed.
  CHECK(Value(p, "bot_chat_evicted_total") == 1);
  CHECK(Value(p, "bot_chat_active") == 2);
  // a and c end by the gap (observed); then d is dropped for g.
  Feed(p, {line("00:20:00", "d", "y"), line("00:20:01", "e", "z"), line("00:20:02", "g", "w"),
           line("01:00:00", "h", "v")});
  std::string text = Text(p);
  // a ended as "paid" (its last value); the field's values past max_outcomes (4, with the default) share one.
  CHECK(text.find("bot_chat_messages_count{outcome=\"paid\"} 1\n") != std::string::npos);
  CHECK(text.find("bot_chat_messages_sum{outcome=\"paid\"} 2\n") != std::string::npos);
  CHECK(text.find("bot_chat_duration_seconds_sum{outcome=\"paid\"} 2\n") != std::string::npos);
  CHECK(text.find("bot_chat_messages_count{outcome=\"__overflow__\"} 3\n") != std::string::npos);  // c, e, g
  CHECK(text.find("outcome=\"x\"") == std::string::npos);
  CHECK(Value(p, "bot_chat_evicted_total") == 2);  // b and d
  CHECK(Value(p, "bot_chat_active") == 1);
}

TEST_CASE("session rules keep open conversations across a stop/start handover") {
  auto config = Load(kSessionRule);
  nlohmann::json state;
  {
    LogPipeline p(config->logs);
    p.Start(nullptr);
    Feed(p, {At("00:00:00", "message received", "u1"), At("00:00:30", "booking confirmed", "u1"),
             At("00:01:00", "message received", "u2")});
    state = p.Stop();
  }
  auto reloaded = Load(kSessionRule);
  LogPipeline q(reloaded->logs);
  q.Start(&state);
  CHECK(Value(q, "bot_conversation_active") == 2);
  Feed(q, {At("00:02:00", "response sent", "u1"), At("01:00:00", "message received", "u3")});
  std::string text = Text(q);
  // u1's conversation spans the handover: 2 messages, 120 s, booked before it.
  CHECK(text.find("bot_conversation_duration_seconds_sum{outcome=\"booked\"} 120\n") != std::string::npos);
  CHECK(text.find("bot_conversation_messages_sum{outcome=\"booked\"} 2\n") != std::string::npos);
  CHECK(text.find("bot_conversation_messages_count{outcome=\"abandoned\"} 1\n") != std::string::npos);
  (void)q.Stop();

  // Another key field is another rule: its conversations start empty.
  std::string changed = kSessionRule;
  changed.replace(changed.find("key_field: userId"), 17, "key_field: psid");
  auto other = Load(changed);
  LogPipeline c(other->logs);
  c.Start(&state);
  CHECK(Value(c, "bot_conversation_active") == 0);
  (void)c.Stop();
}

TEST_CASE("session rule config errors name the field") {
  CHECK(LoadError("      - metric: bot_conversation\n"
                  "        type: session\n"
                  "        key_field: userId\n"
                  "        outcome_field: stage\n"
                  "        outcomes: [{name: booked, match: {field: message, equals: booked}}]\n")
            .find("rules.yaml:8:24: logs[0].rules[0].outcome_field: use either outcomes") != std::string::npos);
  CHECK(LoadError("      - metric: bot_conversation\n"
                  "        type: session\n"
                  "        key_field: userId\n"
                  "        outcome_field: userId\n",
                  "    identifiers: [userId]\n")
            .find("is declared an identifier") != std::string::npos);
  CHECK(LoadError("      - metric: bot_conversation\n"
                  "        type: session\n"
                  "        key_field: userId\n"
                  "        gap: 30x\n")
            .find("logs[0].rules[0].gap: invalid duration \"30x\"") != std::string::npos);
  CHECK(LoadError(
            "      - metric: bot_conversation\n"
            "        type: session\n"
            "        key_field: userId\n"
            "        outcomes: [{name: a, match: {field: m, equals: x}}, {name: a, match: {field: m, equals: y}}]\n")
            .find("outcome \"a\" is listed twice") != std::string::npos);
  CHECK(LoadError("      - metric: bot_conversation_total\n"
                  "        type: session\n"
                  "        key_field: userId\n")
            .find("only counters end in _total") != std::string::npos);
  CHECK(LoadError("      - metric: bot_conversation\n"
                  "        type: sesion\n"
                  "        key_field: userId\n")
            .find("did you mean \"session\"") != std::string::npos);
}
