#include "push/write_request.h"

#include <snappy.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string_view>

#include "prom/text_format.h"

namespace botwatch::push {
namespace {

void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

// A length-delimited field (wire type 2).
void PutBytes(std::string& out, int field, std::string_view bytes) {
  PutVarint(out, (static_cast<uint64_t>(field) << 3) | 2);
  PutVarint(out, bytes.size());
  out.append(bytes.data(), bytes.size());
}

// TimeSeries{labels, samples: [Sample{value, timestamp}]}
void PutSeries(std::string& out, const std::vector<std::pair<std::string_view, std::string_view>>& labels, double value,
               int64_t timestamp_ms) {
  std::string series;
  std::string label;
  for (const auto& [name, v] : labels) {
    label.clear();
    PutBytes(label, 1, name);
    PutBytes(label, 2, v);
    PutBytes(series, 1, label);
  }
  std::string sample;
  sample += static_cast<char>((1 << 3) | 1);  // value: double, fixed64
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  for (int i = 0; i < 8; ++i) sample += static_cast<char>((bits >> (8 * i)) & 0xff);
  sample += static_cast<char>((2 << 3) | 0);  // timestamp: int64, varint
  PutVarint(sample, static_cast<uint64_t>(timestamp_ms));
  PutBytes(series, 2, sample);
  PutBytes(out, 1, series);
}

bool IsSpellings(const prometheus::ClientMetric::Label& l) { return l.name == kPointSpellingsLabel; }

// The producer's spellings of le/quantile values, so a pushed series carries
// the same labels /metrics shows for it (see text_format.h).
std::vector<std::string> Spellings(const prometheus::ClientMetric& m, size_t points) {
  std::vector<std::string> parts;
  if (m.label.empty() || !IsSpellings(m.label.back())) return parts;
  std::string_view all = m.label.back().value;
  while (true) {
    size_t cut = all.find(kPointSpellingSeparator);
    parts.emplace_back(all.substr(0, cut));
    if (cut == std::string_view::npos) break;
    all.remove_prefix(cut + 1);
  }
  if (parts.size() != points) parts.clear();
  return parts;
}

class SeriesWriter {
 public:
  SeriesWriter(std::string& out, const LabelPairs& external, int64_t ts) : out_(out), external_(external), ts_(ts) {}

  void Add(const std::string& name, const char* suffix, const prometheus::ClientMetric& m, const char* point_name,
           const std::string& point_value, double value) {
    labels_.clear();
    full_name_ = name;
    full_name_ += suffix;
    labels_.emplace_back("__name__", full_name_);
    for (const auto& l : m.label) {
      if (IsSpellings(l)) continue;
      labels_.emplace_back(l.name, l.value);
    }
    if (point_name != nullptr) labels_.emplace_back(point_name, point_value);
    size_t own = labels_.size();
    for (const auto& [k, v] : external_) {
      bool present = false;
      for (size_t i = 0; i < own && !present; ++i) present = labels_[i].first == k;
      if (!present) labels_.emplace_back(k, v);
    }
    std::sort(labels_.begin(), labels_.end());
    PutSeries(out_, labels_, value, ts_);
    ++samples_;
  }
  uint64_t samples() const { return samples_; }

 private:
  std::string& out_;
  const LabelPairs& external_;
  int64_t ts_;
  std::string full_name_;
  std::vector<std::pair<std::string_view, std::string_view>> labels_;
  uint64_t samples_ = 0;
};

std::string Point(double v, const std::vector<std::string>& spelled, size_t i) {
  if (i < spelled.size() && !spelled[i].empty()) return spelled[i];
  std::string out;
  AppendValue(out, v);
  return out;
}

}  // namespace

std::string EncodeWriteRequest(const std::vector<prometheus::MetricFamily>& families, const LabelPairs& external,
                               int64_t timestamp_ms, uint64_t* samples) {
  std::string out;
  SeriesWriter w(out, external, timestamp_ms);
  for (const auto& f : families) {
    for (const auto& m : f.metric) {
      switch (f.type) {
        case prometheus::MetricType::Counter:
          w.Add(f.name, "", m, nullptr, "", m.counter.value);
          break;
        case prometheus::MetricType::Gauge:
          w.Add(f.name, "", m, nullptr, "", m.gauge.value);
          break;
        case prometheus::MetricType::Untyped:
          w.Add(f.name, "", m, nullptr, "", m.untyped.value);
          break;
        case prometheus::MetricType::Summary: {
          auto spelled = Spellings(m, m.summary.quantile.size());
          w.Add(f.name, "_count", m, nullptr, "", static_cast<double>(m.summary.sample_count));
          w.Add(f.name, "_sum", m, nullptr, "", m.summary.sample_sum);
          for (size_t i = 0; i < m.summary.quantile.size(); ++i) {
            w.Add(f.name, "", m, "quantile", Point(m.summary.quantile[i].quantile, spelled, i),
                  m.summary.quantile[i].value);
          }
          break;
        }
        case prometheus::MetricType::Histogram: {
          const auto& buckets = m.histogram.bucket;
          bool implicit_inf = buckets.empty() || !std::isinf(buckets.back().upper_bound);
          auto spelled = Spellings(m, buckets.size() + (implicit_inf ? 1 : 0));
          w.Add(f.name, "_count", m, nullptr, "", static_cast<double>(m.histogram.sample_count));
          w.Add(f.name, "_sum", m, nullptr, "", m.histogram.sample_sum);
          for (size_t i = 0; i < buckets.size(); ++i) {
            w.Add(f.name, "_bucket", m, "le", Point(buckets[i].upper_bound, spelled, i),
                  static_cast<double>(buckets[i].cumulative_count));
          }
          if (implicit_inf) {
            w.Add(f.name, "_bucket", m, "le", Point(std::numeric_limits<double>::infinity(), spelled, buckets.size()),
                  static_cast<double>(m.histogram.sample_count));
          }
          break;
        }
      }
    }
  }
  if (samples != nullptr) *samples = w.samples();
  return out;
}

std::string SnappyCompress(const std::string& raw) {
  std::string out;
  snappy::Compress(raw.data(), raw.size(), &out);
  return out;
}

bool SnappyUncompress(const std::string& compressed, std::string* raw) {
  return snappy::Uncompress(compressed.data(), compressed.size(), raw);
}

}  // namespace botwatch::push
