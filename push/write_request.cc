#include "push/write_request.h"

#include <snappy.h>

#include <algorithm>
#include <cstring>
#include <string_view>

#include "prom/series.h"
#include "prom/text_writer.h"

namespace botwatch {
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

class SeriesWriter {
 public:
  SeriesWriter(std::string& out, const LabelPairs& external, int64_t ts) : out_(out), external_(external), ts_(ts) {}

  // One series of metric `m` of family `name`.
  void Add(const std::string& name, const Family::Metric& m, const Series& s) {
    labels_.clear();
    full_name_ = name;
    full_name_ += s.suffix;
    labels_.emplace_back("__name__", full_name_);
    for (const auto& l : m.label) labels_.emplace_back(l.name, l.value);
    if (s.point != nullptr) {
      point_ = s.point->spelling.empty() ? FormatPointValue(s.point->value) : std::string(s.point->spelling);
      labels_.emplace_back(s.point->name, point_);
    }
    size_t own = labels_.size();
    for (const auto& [k, v] : external_) {
      bool present = false;
      for (size_t i = 0; i < own && !present; ++i) present = labels_[i].first == k;
      if (!present) labels_.emplace_back(k, v);
    }
    std::sort(labels_.begin(), labels_.end());
    PutSeries(out_, labels_, s.value, ts_);
    ++samples_;
  }
  uint64_t samples() const { return samples_; }

 private:
  std::string& out_;
  const LabelPairs& external_;
  int64_t ts_;
  std::string full_name_;
  std::string point_;
  std::vector<std::pair<std::string_view, std::string_view>> labels_;
  uint64_t samples_ = 0;
};

}  // namespace

std::string EncodeWriteRequest(const std::vector<Family>& families, const LabelPairs& external, int64_t timestamp_ms,
                               uint64_t* samples) {
  std::string out;
  SeriesWriter w(out, external, timestamp_ms);
  for (const auto& f : families) {
    for (const auto& m : f.metric) {
      ForEachSeries(f.type, m, [&](const Series& s) { w.Add(f.name, m, s); });
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

}  // namespace botwatch
