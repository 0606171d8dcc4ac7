// Fuzz target: the Prometheus text-format parser that validates what an exec
// check prints (prom/text_format.cc). Any bytes give families or a
// one-line "line N: ..." error. What it accepts is re-exported on /metrics
// (SerializeFamilies), so accepted input must survive that: the
// serialized text parses again into the same families, series and label sets
// and values, every value bit for bit (NaN as NaN) — otherwise one odd check
// would make the whole scrape unparseable, or change what it reported.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "prom/names.h"
#include "prom/series.h"
#include "prom/text_format.h"
#include "prom/text_writer.h"

namespace {

// Says which invariant broke, so a crash report is readable without a debugger.
[[noreturn]] void Fail(const char* why, const std::string& detail = "") {
  std::fprintf(stderr, "fuzz_text_format: %s\n%s\n", why, detail.c_str());
  std::abort();
}

using prometheus::MetricType;

void CheckLabels(const botwatch::Family::Metric& m, MetricType type) {
  for (const auto& l : m.label) {
    if (!botwatch::IsValidLabelName(l.name) || !botwatch::IsValidUtf8(l.value)) Fail("bad label", l.name);
  }
  // The producer's spellings of le/quantile: only where there are points.
  if (!m.point_spellings.empty() && type != MetricType::Histogram && type != MetricType::Summary)
    Fail("point spellings without points");
}

void CheckFamily(const botwatch::Family& f) {
  if (!botwatch::IsValidMetricName(f.name) || !botwatch::IsValidUtf8(f.help)) Fail("bad family", f.name);
  for (const botwatch::Family::Metric& m : f.metric) {
    CheckLabels(m, f.type);
    if (f.type == MetricType::Histogram) {
      double last_le = -INFINITY;
      uint64_t last_count = 0;
      for (const auto& b : m.histogram.bucket) {
        if (!(b.upper_bound > last_le) || b.cumulative_count < last_count) Fail("buckets out of order", f.name);
        last_le = b.upper_bound;
        last_count = b.cumulative_count;
      }
      if (m.histogram.sample_count < last_count) Fail("count below a bucket", f.name);
    }
  }
}

// Bit for bit, except that every NaN is one NaN (the text has one spelling).
bool SameValue(double x, double y) {
  if (std::isnan(x) || std::isnan(y)) return std::isnan(x) && std::isnan(y);
  uint64_t bx, by;
  std::memcpy(&bx, &x, sizeof bx);
  std::memcpy(&by, &y, sizeof by);
  return bx == by;
}

bool SameValues(const botwatch::Family::Metric& x, const botwatch::Family::Metric& y) {
  if (!SameValue(x.counter.value, y.counter.value) || !SameValue(x.gauge.value, y.gauge.value) ||
      !SameValue(x.untyped.value, y.untyped.value) || !SameValue(x.summary.sample_sum, y.summary.sample_sum) ||
      !SameValue(x.histogram.sample_sum, y.histogram.sample_sum) || x.summary.sample_count != y.summary.sample_count ||
      x.histogram.sample_count != y.histogram.sample_count || x.timestamp_ms != y.timestamp_ms) {
    return false;
  }
  for (size_t i = 0; i < x.histogram.bucket.size(); ++i) {
    if (!SameValue(x.histogram.bucket[i].upper_bound, y.histogram.bucket[i].upper_bound) ||
        x.histogram.bucket[i].cumulative_count != y.histogram.bucket[i].cumulative_count) {
      return false;
    }
  }
  for (size_t i = 0; i < x.summary.quantile.size(); ++i) {
    if (!SameValue(x.summary.quantile[i].quantile, y.summary.quantile[i].quantile) ||
        !SameValue(x.summary.quantile[i].value, y.summary.quantile[i].value)) {
      return false;
    }
  }
  return true;
}

bool SameShape(const botwatch::Family& a, const botwatch::Family& b) {
  if (a.name != b.name || a.type != b.type || a.help != b.help || a.metric.size() != b.metric.size()) return false;
  for (size_t i = 0; i < a.metric.size(); ++i) {
    const botwatch::Family::Metric& x = a.metric[i];
    const botwatch::Family::Metric& y = b.metric[i];
    if (x.label.size() != y.label.size()) return false;
    for (size_t k = 0; k < x.label.size(); ++k) {
      if (x.label[k].name != y.label[k].name || x.label[k].value != y.label[k].value) return false;
    }
    if (x.point_spellings != y.point_spellings) return false;
    if (x.histogram.bucket.size() != y.histogram.bucket.size()) return false;
    if (x.summary.quantile.size() != y.summary.quantile.size()) return false;
    if (!SameValues(x, y)) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = botwatch::ParseTextFormat(text);
  if (!parsed.ok()) {
    const std::string& m = parsed.status().message();
    if (m.rfind("line ", 0) != 0 || m.find('\n') != std::string::npos || m.size() > 256) {
      Fail("error is not one short \"line N: ...\" line", m);
    }
    return 0;
  }
  for (const botwatch::Family& f : parsed.value()) CheckFamily(f);

  const std::string exported = botwatch::SerializeFamilies(parsed.value());
  auto again = botwatch::ParseTextFormat(exported);
  // Otherwise botwatch would serve text that Prometheus cannot parse.
  if (!again.ok()) Fail("exported text does not parse again", again.status().message() + "\n" + exported);
  if (again.value().size() != parsed.value().size()) Fail("family count changed on export", exported);
  for (size_t i = 0; i < parsed.value().size(); ++i) {
    if (!SameShape(parsed.value()[i], again.value()[i])) Fail("family changed on export", exported);
  }
  return 0;
}
