// The /metrics writer (agent/exposition.cc): values written so that they parse
// back to the same double, escaping of HELP and label values.

#include "agent/exposition.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <limits>
#include <random>

#include "prom/text_format.h"
#include "prom/text_writer.h"

using botwatch::Families;
using botwatch::Family;
using botwatch::SerializeFamilies;
using prometheus::MetricType;

namespace {

Family Gauges(const std::vector<double>& values) {
  Family f{"g", "Gauges.", MetricType::Gauge, {}};
  for (size_t i = 0; i < values.size(); ++i) {
    Family::Metric m;
    m.label = {{"i", std::to_string(i)}};
    m.gauge.value = values[i];
    f.metric.push_back(m);
  }
  return f;
}

uint64_t Bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

}  // namespace

TEST_CASE("exposition: values that need 17 significant digits come out exact") {
  std::string text = SerializeFamilies({Gauges({1.7963948071449037e+09, 0.13615427914031117})});
  // prometheus-cpp's serializer wrote 1796394807.144904 and 0.1361542791403112.
  CHECK_THAT(text, Catch::Contains("g{i=\"0\"} 1796394807.1449037\n"));
  CHECK_THAT(text, Catch::Contains("g{i=\"1\"} 0.13615427914031117\n"));
}

TEST_CASE("exposition: every double parses back bit for bit") {
  std::mt19937_64 rng(20261204);
  std::vector<double> values = {0.0,
                                -0.0,
                                1.0,
                                0.1,
                                1e-320,
                                std::numeric_limits<double>::max(),
                                std::numeric_limits<double>::min(),
                                std::numeric_limits<double>::denorm_min(),
                                1e21,
                                123456789012345678.0,
                                -2.5e-7};
  for (int i = 0; i < 5000; ++i) {
    double v;
    uint64_t bits = rng();
    std::memcpy(&v, &bits, sizeof v);
    if (std::isfinite(v)) values.push_back(v);
  }
  std::string text = SerializeFamilies({Gauges(values)});
  auto parsed = botwatch::ParseTextFormat(text);
  INFO(parsed.status().message());
  REQUIRE(parsed.ok());
  REQUIRE(parsed.value().size() == 1);
  const auto& metrics = parsed.value()[0].metric;
  REQUIRE(metrics.size() == values.size());
  size_t exact = 0;
  for (size_t i = 0; i < values.size(); ++i) exact += Bits(metrics[i].gauge.value) == Bits(values[i]);
  CHECK(exact == values.size());
}

TEST_CASE("exposition: NaN, infinities, histogram bounds, summaries and escaping") {
  Family h{"lat_seconds", "Line one\nback\\slash", MetricType::Histogram, {}};
  Family::Metric m;
  m.label = {{"path", "a\"b\\c\nd"}};
  m.histogram.sample_count = 3;
  m.histogram.sample_sum = 0.30000000000000004;
  m.histogram.bucket = {{1, 0.1}, {2, 1638400}, {3, std::numeric_limits<double>::infinity()}};
  h.metric.push_back(m);
  Family s{"q", "", MetricType::Summary, {}};
  Family::Metric sm;
  sm.summary.sample_count = 2;
  sm.summary.sample_sum = 3;
  sm.summary.quantile = {{0.99, std::numeric_limits<double>::quiet_NaN()}};
  s.metric.push_back(sm);
  std::string text = SerializeFamilies({h, s, Gauges({-std::numeric_limits<double>::infinity()})});
  CHECK(text ==
        "# HELP lat_seconds Line one\\nback\\\\slash\n"
        "# TYPE lat_seconds histogram\n"
        "lat_seconds_count{path=\"a\\\"b\\\\c\\nd\"} 3\n"
        "lat_seconds_sum{path=\"a\\\"b\\\\c\\nd\"} 0.30000000000000004\n"
        "lat_seconds_bucket{path=\"a\\\"b\\\\c\\nd\",le=\"0.1\"} 1\n"
        "lat_seconds_bucket{path=\"a\\\"b\\\\c\\nd\",le=\"1638400\"} 2\n"
        "lat_seconds_bucket{path=\"a\\\"b\\\\c\\nd\",le=\"+Inf\"} 3\n"
        "# TYPE q summary\n"
        "q_count 2\n"
        "q_sum 3\n"
        "q{quantile=\"0.99\"} NaN\n"
        "# HELP g Gauges.\n"
        "# TYPE g gauge\n"
        "g{i=\"0\"} -Inf\n");
  // And it reads back as it was written.
  auto parsed = botwatch::ParseTextFormat(text);
  REQUIRE(parsed.ok());
  REQUIRE(parsed.value().size() == 3);
  CHECK(parsed.value()[0].help == "Line one\nback\\slash");
  CHECK(parsed.value()[0].metric[0].label[0].value == "a\"b\\c\nd");
  CHECK(parsed.value()[0].metric[0].histogram.sample_sum == 0.30000000000000004);
}
