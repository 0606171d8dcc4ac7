#include "prom/text_format.h"
#include "prom/text_writer.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

using namespace botwatch;
using prometheus::MetricType;

TEST_CASE("text format: a valid exposition parses into families") {
  const std::string text =
      "# HELP http_requests_total Requests by code.\n"
      "# TYPE http_requests_total counter\n"
      "http_requests_total{code=\"200\",method=\"get\"} 1027 1395066363000\n"
      "http_requests_total{code=\"400\",method=\"post\",} 3\n"
      "\n"
      "# a plain comment\n"
      "# HELP msg Escapes: \\\\ and \\n.\n"
      "msg{path=\"C:\\\\dir\\\\\",quote=\"say \\\"hi\\\"\",nl=\"a\\nb\"} +Inf\n"
      "temp_celsius -3.5e1\n"
      "nan_gauge NaN\n"
      "# TYPE rpc_seconds summary\n"
      "rpc_seconds{quantile=\"0.5\"} 0.05\n"
      "rpc_seconds{quantile=\"0.99\"} 0.2\n"
      "rpc_seconds_sum 17.5\n"
      "rpc_seconds_count 200\n"
      "# TYPE latency histogram\n"
      "latency_bucket{path=\"/a\",le=\"0.1\"} 2\n"
      "latency_bucket{path=\"/a\",le=\"1\"} 5\n"
      "latency_bucket{path=\"/a\",le=\"+Inf\"} 6\n"
      "latency_sum{path=\"/a\"} 3.25\n"
      "latency_count{path=\"/a\"} 6\n"
      "latency_bucket{path=\"/b\",le=\"+Inf\"} 0\n";
  auto r = ParseTextFormat(text);
  INFO(r.status().message());
  REQUIRE(r.ok());
  const auto& f = r.value();
  REQUIRE(f.size() == 6);
  CHECK(f[0].name == "http_requests_total");
  CHECK(f[0].type == MetricType::Counter);
  CHECK(f[0].help == "Requests by code.");
  REQUIRE(f[0].metric.size() == 2);
  CHECK(f[0].metric[0].counter.value == 1027);
  CHECK(f[0].metric[0].timestamp_ms == 1395066363000);
  CHECK(f[0].metric[1].label.size() == 2);
  CHECK(f[1].name == "msg");
  CHECK(f[1].help == "Escapes: \\ and \n.");
  CHECK(f[1].type == MetricType::Untyped);
  CHECK(f[1].metric[0].label[0].value == "C:\\dir\\");
  CHECK(f[1].metric[0].label[1].value == "say \"hi\"");
  CHECK(f[1].metric[0].label[2].value == "a\nb");
  CHECK(std::isinf(f[1].metric[0].untyped.value));
  CHECK(f[2].metric[0].untyped.value == -35.0);
  CHECK(std::isnan(f[3].metric[0].untyped.value));
  CHECK(f[4].type == MetricType::Summary);
  REQUIRE(f[4].metric.size() == 1);
  CHECK(f[4].metric[0].summary.quantile.size() == 2);
  CHECK(f[4].metric[0].summary.sample_count == 200);
  CHECK(f[4].metric[0].summary.sample_sum == 17.5);
  CHECK(f[5].type == MetricType::Histogram);
  REQUIRE(f[5].metric.size() == 2);
  CHECK(f[5].metric[0].histogram.bucket.size() == 2);
  CHECK(f[5].metric[0].histogram.sample_count == 6);
  CHECK(f[5].metric[0].histogram.sample_sum == 3.25);
  CHECK(f[5].metric[1].histogram.sample_count == 0);

  // What we parsed serializes back into the same histogram lines.
  std::string out = botwatch::SerializeFamilies({f[5]});
  CHECK_THAT(out, Catch::Contains("latency_bucket{path=\"/a\",le=\"0.1\"} 2"));
  CHECK_THAT(out, Catch::Contains("latency_bucket{path=\"/a\",le=\"+Inf\"} 6"));
  CHECK(ParseTextFormat("").ok());
  CHECK(ParseTextFormat("\n\n# only comments\n").value().empty());
}

TEST_CASE("text format: every malformed line is an error naming the line") {
  struct Case {
    std::string text;
    std::string message;
  };
  std::vector<Case> cases = {
      {"hello world\n", "line 1: invalid value \"world\""},
      {"{\"json\": 1}\n", "line 1: expected a metric name"},
      {"ok 1\n9bad 1\n", "line 2: expected a metric name"},
      {"ok 1\nm 1", "line 2: the last line has no trailing newline"},
      {"m\n", "line 1: expected a blank and a value after the name"},
      {"m 1 2 3\n", "line 1: unexpected text after the timestamp"},
      {"m 1 12.5\n", "line 1: invalid timestamp \"12.5\""},
      {"m{a=\"1\"\n", "line 1: expected ',' or '}'"},
      {"m{a=1} 1\n", "line 1: expected '\"' to open the value of \"a\""},
      {"m{a=\"x\\t\"} 1\n", "line 1: invalid escape \\t"},
      {"m{a=\"x} 1\n", "unterminated value of label \"a\""},
      {"m{a=\"1\",a=\"2\"} 1\n", "duplicate label \"a\""},
      {"m{__name__=\"x\"} 1\n", "is reserved"},
      {"m{a=\"\xff\"} 1\n", "not valid UTF-8"},
      {"m 1\r\n", "carriage return"},
      {"m 1\nm 2\n", "duplicate series in family m"},
      {"m{a=\"1\"} 1\nother 1\nm{a=\"2\"} 1\n", "line 3: family m appears twice"},
      {"m 1\n# TYPE m gauge\n", "line 2: TYPE for m after its samples"},
      {"# TYPE m gauge\n# TYPE m counter\n", "second TYPE for m"},
      {"# HELP m a\n# HELP m b\n", "second HELP for m"},
      {"# TYPE m histo\n", "unknown type \"histo\""},
      {"# TYPE 1m gauge\n", "invalid metric name \"1m\""},
      {"# HELP m bad \\x escape\n", "invalid escape \\x in HELP"},
      {"# TYPE c counter\nc -1\n", "counter c has a negative value"},
      {"# TYPE h histogram\nh_bucket{le=\"1\"} 1\n", "histogram h has no le=\"+Inf\" bucket"},
      {"# TYPE h histogram\nh_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 2\n", "buckets are not cumulative"},
      {"# TYPE h histogram\nh_bucket 3\n", "h_bucket needs a \"le\" label"},
      {"# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 3\n", "h_count differs from its +Inf bucket"},
      {"# TYPE h histogram\nh_bucket{le=\"x\"} 2\n", "invalid le value \"x\""},
      // prometheus-cpp stores counts as uint64_t: these could not be re-exported.
      {"# TYPE h histogram\nh_bucket{le=\"+Inf\"} +Inf\n", "histogram h has a bucket count out of range"},
      {"# TYPE h histogram\nh_bucket{le=\"+Inf\"} NaN\n", "histogram h has a bucket count out of range"},
      {"# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1e20\n", "histogram h has a bucket count out of range"},
      {"# TYPE s summary\ns_count +Inf\n", "summary s_count out of range"},
      {"# TYPE s summary\ns_count -1\n", "summary s_count out of range"},
      // Found by fuzzing: a decoded newline in a quoted token kept the error on one line only if escaped.
      {"# TYPE h histogram\nh_bucket{le=\"1\\nx\"} 1\n", "line 2: invalid le value \"1\\x0ax\""},
      // One bucket spelled twice.
      {"# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"1.0\"} 2\nh_bucket{le=\"+Inf\"} 2\n",
       "duplicate le=\"1.0\" in h"},
      {"# TYPE s summary\ns{quantile=\"2\"} 1\n", "quantile outside [0, 1]"},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    auto r = ParseTextFormat(c.text);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.status().message(), Catch::Contains(c.message));
  }
}

TEST_CASE("text format: limits bound samples and line length") {
  std::string many;
  for (int i = 0; i < 11; ++i) many += "m{i=\"" + std::to_string(i) + "\"} 1\n";
  TextFormatLimits limits;
  limits.max_samples = 10;
  CHECK_THAT(ParseTextFormat(many, limits).status().message(), Catch::Contains("line 11: more than 10 samples"));
  limits.max_line_bytes = 8;
  CHECK_THAT(ParseTextFormat("m{a=\"long\"} 1\n", limits).status().message(), Catch::Contains("longer than 8"));
}

TEST_CASE("text format: errors quote at most a short piece of the input") {
  std::string long_value(5000, 'x');
  auto r = ParseTextFormat("m " + long_value + "\n");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message() == "line 1: invalid value \"" + std::string(40, 'x') + "...\"");
  std::string long_name(5000, 'n');
  auto dup = ParseTextFormat(long_name + "{a=\"1\",a=\"1\"} 1\n");
  REQUIRE_FALSE(dup.ok());
  CHECK(dup.status().message().size() < 260);
}

TEST_CASE("text format: UTF-8 validation rejects overlong forms and surrogates") {
  CHECK(IsValidUtf8("plain ascii"));
  CHECK(IsValidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  CHECK_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  CHECK_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  CHECK_FALSE(IsValidUtf8("\xe2\x82"));          // truncated
  CHECK_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  CHECK_FALSE(IsValidUtf8("\x80"));
}

TEST_CASE("text format: mutated inputs never throw or crash") {
  const std::string seed =
      "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\",y=\"\\\"q\\\"\"} 3 17\n"
      "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n"
      "# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 1\ns_count 1\ng -1e3\n";
  REQUIRE(ParseTextFormat(seed).ok());
  const std::string alphabet = "{}\"\\=, \n#_a1.+-eE\xff\xc3\tle";
  uint64_t state = 42;
  auto next = [&] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<size_t>(state >> 33);
  };
  int parsed = 0, rejected = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string s = seed;
    int edits = 1 + static_cast<int>(next() % 4);
    for (int e = 0; e < edits; ++e) {
      size_t pos = next() % (s.size() + 1);
      switch (next() % 3) {
        case 0:
          s.insert(pos, 1, alphabet[next() % alphabet.size()]);
          break;
        case 1:
          if (pos < s.size()) s.erase(pos, 1 + next() % 8);
          break;
        default:
          if (pos < s.size()) s[pos] = alphabet[next() % alphabet.size()];
      }
    }
    auto r = ParseTextFormat(s);
    (r.ok() ? parsed : rejected)++;
    if (r.ok()) {
      // Whatever is accepted must serialize without throwing.
      CHECK_NOTHROW(botwatch::SerializeFamilies(r.value()));
    }
  }
  CHECK(parsed > 100);
  CHECK(rejected > 1000);
}

TEST_CASE("exposition: HELP text with a backslash or a newline survives /metrics") {
  // Found by the text_format fuzz target: prometheus-cpp writes HELP verbatim,
  // so a newline in a user's help text used to split the exposition.
  Family f;
  f.name = "user_defined";
  f.help = "Line one\nline two, path C:\\dir";
  f.type = MetricType::Gauge;
  Family::Metric m;
  m.gauge.value = 1;
  f.metric.push_back(m);
  const std::string text = SerializeFamilies({f});
  CHECK(text.find("# HELP user_defined Line one\\nline two, path C:\\\\dir\n") != std::string::npos);
  auto back = ParseTextFormat(text);
  INFO(text);
  REQUIRE(back.ok());
  REQUIRE(back.value().size() == 1);
  CHECK(back.value()[0].help == f.help);
  CHECK(back.value()[0].metric[0].gauge.value == 1);
}

TEST_CASE("text format: values are read as Prometheus reads them (overflow refused, subnormals kept)") {
  CHECK_FALSE(botwatch::ParseTextFormat("x 1e400\n").ok());
  auto sub = botwatch::ParseTextFormat("x 4.9406564584124654e-324\ny 1e-400\n");
  REQUIRE(sub.ok());
  CHECK(sub.value()[0].metric[0].untyped.value == std::numeric_limits<double>::denorm_min());
  CHECK(sub.value()[1].metric[0].untyped.value == 0);
}

TEST_CASE("text format: le and quantile keep their spelling through /metrics, and 17-digit bounds stay apart") {
  const std::string text =
      "# TYPE h histogram\n"
      "h_bucket{le=\"1\"} 1\nh_bucket{le=\"1.0000000000000002\"} 2\nh_bucket{le=\"1.6384e+06\"} 3\n"
      "h_bucket{le=\"+Inf\"} 3\nh_sum 2\nh_count 3\n"
      "# TYPE s summary\ns{quantile=\"0.50\"} 1\ns{quantile=\"0.9\"} 2\ns_sum 3\ns_count 2\n"
      "# TYPE plain histogram\nplain_bucket{le=\"0.5\"} 1\nplain_bucket{le=\"+Inf\"} 1\nplain_sum 0.5\nplain_count 1\n";
  auto parsed = ParseTextFormat(text);
  REQUIRE(parsed.ok());
  REQUIRE(parsed.value()[0].metric[0].histogram.bucket.size() == 3);  // two bounds 1 ulp apart: two buckets
  CHECK(parsed.value()[2].metric[0].label.empty());  // nothing to remember when botwatch spells it the same
  std::string out = botwatch::SerializeFamilies(parsed.value());
  CHECK_THAT(out, Catch::Contains("h_bucket{le=\"1\"} 1\n"));
  CHECK_THAT(out, Catch::Contains("h_bucket{le=\"1.0000000000000002\"} 2\n"));
  CHECK_THAT(out, Catch::Contains("h_bucket{le=\"1.6384e+06\"} 3\n"));  // not 1638400
  CHECK_THAT(out, Catch::Contains("h_bucket{le=\"+Inf\"} 3\n"));
  CHECK_THAT(out, Catch::Contains("s{quantile=\"0.50\"} 1\n"));  // not 0.5
  CHECK_THAT(out, Catch::Contains("plain_bucket{le=\"0.5\"} 1\n"));
  CHECK(out.find('\x1f') == std::string::npos);
  CHECK(out.find("{,") == std::string::npos);
  CHECK(out.find("=\"\"") == std::string::npos);
  // And reads back the same: the spelling survives any number of trips.
  CHECK(botwatch::SerializeFamilies(ParseTextFormat(out).value()) == out);
}

TEST_CASE("text format: secrets are redacted from errors before a quoted token is cut") {
  const std::string secret = "s3cr3t-" + std::string(50, 'k');
  TextFormatLimits limits;
  limits.secrets = {secret};
  // At the start of the token, and straddling the 40-byte cut.
  for (const std::string& token : {secret, std::string(30, '1') + secret}) {
    auto r = ParseTextFormat("m " + token + "\n", limits);
    REQUIRE_FALSE(r.ok());
    INFO(r.status().message());
    CHECK(r.status().message().find("s3cr3t") == std::string::npos);
    CHECK(r.status().message().find("<secret>") != std::string::npos);
  }
  // In a name, which is not quoted but still part of the message.
  limits.secrets = {"leaky_name"};
  auto dup = ParseTextFormat("# TYPE leaky_name gauge\n# TYPE leaky_name gauge\n", limits);
  REQUIRE_FALSE(dup.ok());
  CHECK(dup.status().message() == "line 2: second TYPE for <secret>");
}
