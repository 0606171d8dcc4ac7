// Fuzz target: the rule matcher behind a fixed rule set (every match operator,
// every metric type, labels from fields with a small series bound), fed fuzzed
// lines through LogPipeline::Ingest into a JSON source and a logfmt source. The
// pipeline lives across inputs, so label sets accumulate as in a long run.
// Invariants: every line is counted exactly once (as matched, unmatched or a
// parse error), no metric ever has more series than its bound plus the
// overflow series, and the exposition is always serialisable.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "agent/config.h"
#include "logs/pipeline.h"
#include "prom/text_writer.h"

namespace {

const char* const kRules =
    "      - {metric: eq_total, type: counter, match: {field: message, equals: hello}}\n"
    "      - {metric: ne_total, type: counter, match: {field: message, not_equals: hello}}\n"
    "      - {metric: oneof_total, type: counter, match: {field: level, one_of: [warn, error]}, label_fields: {level: "
    "level}, max_series: 8}\n"
    "      - {metric: re_total, type: counter, match: {field: message, regex: '^(he|x)+.*o$'}}\n"
    "      - {metric: exists_total, type: counter, match: {field: user.id, exists: true}}\n"
    "      - {metric: absent_total, type: counter, match: {field: user.id, exists: false}}\n"
    "      - {metric: cmp_total, type: counter, match: {any: [{field: ms, gt: 100}, {field: ms, lte: -1e300}]}}\n"
    "      - {metric: range_total, type: counter, match: {all: [{field: ms, gte: 0}, {field: ms, lt: 1e9}]}}\n"
    "      - {metric: by_kind_total, type: counter, labels: {fixed: x}, label_fields: {kind: kind}, max_series: 8}\n"
    "      - {metric: tokens_total, type: counter, value_field: tokens}\n"
    "      - {metric: last_tokens, type: gauge, value_field: tokens, label_fields: {kind: kind}, max_series: 8}\n"
    "      - {metric: seen_timestamp_seconds, type: gauge, action: set_timestamp, match: {field: message, equals: "
    "hello}}\n"
    "      - {metric: pending, type: gauge, action: inc, match: {field: message, equals: open}}\n"
    "      - {metric: pending, type: gauge, action: dec, match: {field: message, equals: close}}\n"
    "      - {metric: latency_seconds, type: histogram, value_field: ms, scale: 0.001, buckets: [0.1, 0.5, 1]}\n"
    "      - {metric: users, type: distinct, value_field: user.id, windows: [30m]}\n";

std::string Source(const std::string& name, const std::string& format) {
  return "  - name: " + name + "\n    path: /nonexistent/" + name + "/*.log\n    format: " + format +
         "\n    identifiers: [user.id]\n    rules:\n" + kRules;
}

botwatch::LogPipeline& Pipeline() {
  static botwatch::LogPipeline* pipeline = [] {
    botwatch::ConfigSource src;
    src.file = "fuzz_rules.yaml";
    src.dir = "/nonexistent";
    src.env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
    auto config = botwatch::LoadConfigText("logs:\n" + Source("json", "json") + Source("kv", "logfmt"), src);
    if (!config.ok()) {
      std::fprintf(stderr, "fuzz_log_rules: %s\n", config.status().message().c_str());
      std::abort();
    }
    static std::shared_ptr<const botwatch::Config> keep = config.value();
    return new botwatch::LogPipeline(keep->logs);
  }();
  return *pipeline;
}

double Total(const std::string& text, const std::string& series) {
  size_t pos = text.find("\n" + series + " ");
  if (pos == std::string::npos) return 0;
  return std::stod(text.substr(pos + series.size() + 2));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  botwatch::LogPipeline& p = Pipeline();
  std::string_view input(reinterpret_cast<const char*>(data), size);
  for (const char* source : {"json", "kv"}) {
    size_t start = 0;
    while (start <= input.size()) {
      size_t end = input.find('\n', start);
      if (end == std::string_view::npos) end = input.size();
      if (!p.Ingest(source, input.substr(start, end - start)).ok()) std::abort();
      start = end + 1;
    }
  }
  std::string text = botwatch::SerializeFamilies(p.Expose());
  // Bounded series: max_series label sets plus the overflow one, per metric.
  for (const char* metric : {"oneof_total{", "by_kind_total{", "last_tokens{"}) {
    size_t count = 0;
    for (size_t pos = text.find(std::string("\n") + metric); pos != std::string::npos;
         pos = text.find(std::string("\n") + metric, pos + 1)) {
      ++count;
    }
    if (count > 9) std::abort();
  }
  // Every non-blank line is counted once: lines = parse errors + unmatched + matched.
  for (const char* source : {"json", "kv"}) {
    std::string s = std::string("{source=\"") + source + "\"}";
    double lines = Total(text, "botwatch_log_lines_total" + s);
    double errors = Total(text, "botwatch_log_parse_errors_total" + s);
    double unmatched = Total(text, "botwatch_log_lines_unmatched_total" + s);
    if (errors + unmatched > lines) std::abort();
  }
  return 0;
}
