#include "logs/metric_store.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace botwatch {

const char* MetricTypeName(MetricType t) {
  for (const auto& [type, name] : kMetricTypeNames) {
    if (type == t) return name;
  }
  return "?";
}

std::string MetricDef::Signature() const {
  std::string s = name + "|" + MetricTypeName(type) + "|";
  for (const auto& l : label_names) s += l + ",";
  s += "|";
  char buf[64];
  for (double b : buckets) {
    std::snprintf(buf, sizeof buf, "%.17g,", b);
    s += buf;
  }
  s += "|";
  for (const auto& [label, secs] : windows) {
    std::snprintf(buf, sizeof buf, "=%.17g,", secs);
    s += label + buf;
  }
  return s;
}

MetricStore::MetricStore(std::vector<MetricDef> defs, std::vector<std::string> sources) {
  for (auto& d : defs) {
    Metric m;
    m.def = std::move(d);
    metrics_.push_back(std::move(m));
  }
  for (auto& s : sources) sources_.push_back(Source{std::move(s), {}});
}

int MetricStore::FindMetric(const std::string& name) const {
  for (size_t i = 0; i < metrics_.size(); ++i) {
    if (metrics_[i].def.name == name) return static_cast<int>(i);
  }
  return -1;
}

int MetricStore::FindSource(const std::string& name) const {
  for (size_t i = 0; i < sources_.size(); ++i) {
    if (sources_[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

size_t MetricStore::NewSeries(Metric& m, std::vector<std::string> labels) {
  SeriesData s;
  s.labels = std::move(labels);
  if (m.def.type == MetricType::kHistogram) s.bucket_counts.assign(m.def.buckets.size() + 1, 0);
  if (m.def.type == MetricType::kDistinct) {
    std::vector<double> secs;
    for (const auto& w : m.def.windows) secs.push_back(w.second);
    s.distinct = std::make_unique<SlidingDistinct>(secs);
  }
  m.series.push_back(std::move(s));
  return m.series.size() - 1;
}

size_t MetricStore::Series(int metric, const std::vector<std::string_view>& values) {
  Metric& m = metrics_[static_cast<size_t>(metric)];
  key_.clear();
  for (std::string_view v : values) {
    key_.append(v);
    key_.push_back('\x1f');
  }
  auto it = m.index.find(key_);
  if (it != m.index.end()) return it->second;
  if (m.index.size() >= m.def.max_series) {
    m.dropped += 1;
    if (m.overflow == SIZE_MAX) {
      m.overflow = NewSeries(m, std::vector<std::string>(values.size(), kOverflowValue));
    }
    return m.overflow;
  }
  size_t idx = NewSeries(m, std::vector<std::string>(values.begin(), values.end()));
  m.index.emplace(key_, idx);
  return idx;
}

void MetricStore::Add(int metric, size_t series, double delta) {
  metrics_[static_cast<size_t>(metric)].series[series].value += delta;
}

void MetricStore::Set(int metric, size_t series, double value) {
  metrics_[static_cast<size_t>(metric)].series[series].value = value;
}

void MetricStore::Observe(int metric, size_t series, double value) {
  Metric& m = metrics_[static_cast<size_t>(metric)];
  SeriesData& s = m.series[series];
  const auto& b = m.def.buckets;
  // First bucket whose upper bound is >= value (bounds are inclusive: le).
  size_t i = static_cast<size_t>(std::lower_bound(b.begin(), b.end(), value) - b.begin());
  s.bucket_counts[i] += 1;
  s.sum += value;
  s.count += 1;
}

void MetricStore::AddDistinct(int metric, size_t series, uint64_t hash, double unix_time) {
  metrics_[static_cast<size_t>(metric)].series[series].distinct->Add(hash, unix_time);
}

namespace {

std::vector<Family::Metric::Label> SeriesLabels(const std::vector<std::string>& names,
                                                const std::vector<std::string>& values) {
  std::vector<Family::Metric::Label> out;
  for (size_t i = 0; i < names.size(); ++i) out.push_back({names[i], values[i]});
  return out;
}

// A distinct metric is exposed as one gauge per window.
prometheus::MetricType ExpositionType(MetricType t) {
  switch (t) {
    case MetricType::kCounter:
      return prometheus::MetricType::Counter;
    case MetricType::kHistogram:
      return prometheus::MetricType::Histogram;
    case MetricType::kGauge:
    case MetricType::kDistinct:
      break;
  }
  return prometheus::MetricType::Gauge;
}

}  // namespace

Families MetricStore::Expose(double now) const {
  std::lock_guard<std::mutex> lock(mu_);
  Families out;
  for (const Metric& m : metrics_) out.push_back(RuleFamily(m, now));
  AppendSourceFamilies(out);
  out.push_back(DroppedFamily());
  return out;
}

Family MetricStore::RuleFamily(const Metric& m, double now) {
  const MetricDef& d = m.def;
  std::string help = d.help.empty() ? "Derived from logs by botwatch rules." : d.help;
  Family f{d.name, help, ExpositionType(d.type), {}};
  for (const SeriesData& s : m.series) {
    Family::Metric cm;
    cm.label = SeriesLabels(d.label_names, s.labels);
    switch (d.type) {
      case MetricType::kCounter:
        cm.counter.value = s.value;
        break;
      case MetricType::kGauge:
        cm.gauge.value = s.value;
        break;
      case MetricType::kHistogram: {
        cm.histogram.sample_count = s.count;
        cm.histogram.sample_sum = s.sum;
        uint64_t cumulative = 0;
        for (size_t i = 0; i < s.bucket_counts.size(); ++i) {
          cumulative += s.bucket_counts[i];
          double bound = i < d.buckets.size() ? d.buckets[i] : std::numeric_limits<double>::infinity();
          cm.histogram.bucket.push_back({cumulative, bound});
        }
        break;
      }
      case MetricType::kDistinct: {
        // One gauge per window, the window as the last label.
        std::vector<double> est = s.distinct->Estimates(now);
        for (size_t w = 0; w < d.windows.size(); ++w) {
          Family::Metric window = cm;
          window.label.push_back({"window", d.windows[w].first});
          window.gauge.value = est[w];
          f.metric.push_back(std::move(window));
        }
        break;
      }
    }
    if (d.type != MetricType::kDistinct) f.metric.push_back(std::move(cm));
  }
  return f;
}

void MetricStore::AppendSourceFamilies(Families& out) const {
  struct Stat {
    const char* name;
    const char* help;
    prometheus::MetricType type;
    double SourceStats::*field;
  };
  static const Stat kStats[] = {
      {"botwatch_log_lines_total", "Complete log lines read, per source.", prometheus::MetricType::Counter,
       &SourceStats::lines},
      {"botwatch_log_bytes_total", "Bytes of complete log lines read, per source.", prometheus::MetricType::Counter,
       &SourceStats::bytes},
      {"botwatch_log_parse_errors_total",
       "Lines that could not be parsed or were longer than max_line_bytes, per source.",
       prometheus::MetricType::Counter, &SourceStats::parse_errors},
      {"botwatch_log_lines_unmatched_total", "Parsed lines that matched no rule, per source.",
       prometheus::MetricType::Counter, &SourceStats::unmatched},
      {"botwatch_log_rotations_total", "Rotations and truncations seen, per source.", prometheus::MetricType::Counter,
       &SourceStats::rotations},
      {"botwatch_log_files_watched", "Files currently followed, per source.", prometheus::MetricType::Gauge,
       &SourceStats::files_watched},
      {"botwatch_log_lag_bytes", "Bytes written to the followed files but not yet processed, per source.",
       prometheus::MetricType::Gauge, &SourceStats::lag_bytes},
  };
  for (const Stat& st : kStats) {
    Family f{st.name, st.help, st.type, {}};
    for (const Source& src : sources_) {
      Family::Metric cm;
      cm.label = {{"source", src.name}};
      if (st.type == prometheus::MetricType::Counter)
        cm.counter.value = src.stats.*st.field;
      else
        cm.gauge.value = src.stats.*st.field;
      f.metric.push_back(std::move(cm));
    }
    out.push_back(std::move(f));
  }
}

Family MetricStore::DroppedFamily() const {
  Family dropped{"botwatch_log_series_dropped_total",
                 "Label sets folded into __overflow__ because the metric reached its series bound.",
                 prometheus::MetricType::Counter,
                 {}};
  for (const Metric& m : metrics_) {
    Family::Metric cm;
    cm.label = {{"metric", m.def.name}};
    cm.counter.value = m.dropped;
    dropped.metric.push_back(std::move(cm));
  }
  return dropped;
}

// Sparse: [minute, count] for every slot that holds a count; a day is at most
// 1440 pairs.
nlohmann::json MetricStore::SaveHistory(const MinuteHistory& h) {
  nlohmann::json minutes = nlohmann::json::array();
  for (size_t slot = 0; slot < h.counts.size(); ++slot) {
    if (h.minute[slot] >= 0 && h.counts[slot] != 0) minutes.push_back({h.minute[slot], h.counts[slot]});
  }
  return {{"labels", h.labels}, {"minutes", std::move(minutes)}};
}

void MetricStore::RestoreHistory(const nlohmann::json& jh, MinuteHistory& h) {
  if (!jh.is_object() || jh.value("labels", std::vector<std::string>{}) != h.labels) return;
  auto it = jh.find("minutes");
  if (it == jh.end() || !it->is_array()) return;
  for (const auto& pair : *it) {
    if (!pair.is_array() || pair.size() != 2 || !pair[0].is_number_integer() || !pair[1].is_number()) continue;
    auto minute = pair[0].get<int64_t>();
    if (minute < 0) continue;
    auto slot = static_cast<size_t>(minute % kHistoryMinutes);
    // Lines that arrived before the state (none today: Restore runs before
    // Start) would be newer; keep the newer minute.
    if (h.minute[slot] > minute) continue;
    if (h.minute[slot] != minute) h.counts[slot] = 0;
    h.minute[slot] = minute;
    h.counts[slot] += pair[1].get<double>();
  }
}

nlohmann::json MetricStore::Save() const {
  std::lock_guard<std::mutex> lock(mu_);
  nlohmann::json metrics = nlohmann::json::array();
  for (const Metric& m : metrics_) {
    nlohmann::json series = nlohmann::json::array();
    for (const SeriesData& s : m.series) {
      nlohmann::json js = {{"labels", s.labels}, {"value", s.value}};
      if (m.def.type == MetricType::kHistogram) {
        js["buckets"] = s.bucket_counts;
        js["sum"] = s.sum;
        js["count"] = s.count;
      }
      if (s.distinct) {
        nlohmann::json windows = nlohmann::json::array();
        for (const auto& w : s.distinct->windows()) {
          nlohmann::json slices = nlohmann::json::array();
          for (const auto& slice : w.slices) {
            const auto& r = slice.sketch.registers();
            size_t nonzero = static_cast<size_t>(std::count_if(r.begin(), r.end(), [](uint8_t v) { return v != 0; }));
            if (nonzero * 4 < r.size()) {
              // Sparse: index << 8 | value of the non-zero registers.
              std::vector<uint32_t> regs;
              for (size_t i = 0; i < r.size(); ++i) {
                if (r[i] != 0) regs.push_back(static_cast<uint32_t>(i << 8 | r[i]));
              }
              slices.push_back({{"index", slice.index}, {"registers", regs}});
            } else {
              // Dense: one character per register, '#' + value (never '"' or '\\'), 4 KiB.
              std::string dense(r.size(), '#');
              for (size_t i = 0; i < r.size(); ++i) dense[i] = static_cast<char>('#' + r[i]);
              slices.push_back({{"index", slice.index}, {"dense", dense}});
            }
          }
          windows.push_back(std::move(slices));
        }
        js["windows"] = std::move(windows);
      }
      series.push_back(std::move(js));
    }
    nlohmann::json jm = {{"signature", m.def.Signature()}, {"dropped", m.dropped}, {"series", std::move(series)}};
    // The per-minute history is state like the counts: without it a reload or
    // restart would blank the summary's last hour / 24 h and the page's chart.
    if (m.history) jm["history"] = SaveHistory(*m.history);
    metrics.push_back(std::move(jm));
  }
  nlohmann::json sources = nlohmann::json::object();
  for (const Source& s : sources_) {
    sources[s.name] = {{"lines", s.stats.lines},
                       {"bytes", s.stats.bytes},
                       {"parse_errors", s.stats.parse_errors},
                       {"unmatched", s.stats.unmatched},
                       {"rotations", s.stats.rotations}};
  }
  return {{"metrics", std::move(metrics)}, {"sources", std::move(sources)}};
}

void MetricStore::Restore(const nlohmann::json& state) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!state.is_object()) return;
  if (auto it = state.find("metrics"); it != state.end() && it->is_array()) {
    for (const auto& jm : *it) {
      std::string sig = jm.value("signature", "");
      for (Metric& m : metrics_) {
        if (m.def.Signature() != sig) continue;
        m.dropped = jm.value("dropped", 0.0);
        for (const auto& js : jm.at("series")) {
          auto labels = js.at("labels").get<std::vector<std::string>>();
          if (labels.size() != m.def.label_names.size()) continue;
          bool overflow = !labels.empty() && labels[0] == kOverflowValue;
          std::string key;
          for (const auto& l : labels) key += l + '\x1f';
          // Rules pre-create their constant series before the state arrives.
          size_t idx;
          if (overflow && m.overflow != SIZE_MAX) {
            idx = m.overflow;
          } else if (auto found = m.index.find(key); !overflow && found != m.index.end()) {
            idx = found->second;
          } else {
            idx = NewSeries(m, labels);
            if (overflow)
              m.overflow = idx;
            else
              m.index.emplace(key, idx);
          }
          SeriesData& s = m.series[idx];
          s.value = js.value("value", 0.0);
          if (m.def.type == MetricType::kHistogram) {
            auto counts = js.at("buckets").get<std::vector<uint64_t>>();
            if (counts.size() == s.bucket_counts.size()) s.bucket_counts = counts;
            s.sum = js.value("sum", 0.0);
            s.count = js.value("count", uint64_t{0});
          }
          if (s.distinct && js.contains("windows")) {
            auto& windows = s.distinct->mutable_windows();
            for (auto& w : windows) w.slices.clear();
            const auto& jw = js.at("windows");
            for (size_t w = 0; w < windows.size() && w < jw.size(); ++w) {
              for (const auto& jslice : jw[w]) {
                SlidingDistinct::Slice slice{jslice.at("index").get<int64_t>(), HyperLogLog()};
                auto& regs = slice.sketch.mutable_registers();
                if (jslice.contains("dense")) {
                  std::string dense = jslice.at("dense").get<std::string>();
                  for (size_t i = 0; i < dense.size() && i < regs.size(); ++i) {
                    regs[i] = static_cast<uint8_t>(std::clamp(dense[i] - '#', 0, 64));
                  }
                } else {
                  for (uint32_t packed : jslice.at("registers").get<std::vector<uint32_t>>()) {
                    size_t reg = packed >> 8;
                    if (reg < HyperLogLog::kRegisters) regs[reg] = static_cast<uint8_t>(packed & 0xff);
                  }
                }
                windows[w].slices.push_back(std::move(slice));
              }
            }
          }
        }
        if (m.history) {
          if (auto jh = jm.find("history"); jh != jm.end()) RestoreHistory(*jh, *m.history);
        }
      }
    }
  }
  if (auto it = state.find("sources"); it != state.end() && it->is_object()) {
    for (Source& s : sources_) {
      auto js = it->find(s.name);
      if (js == it->end()) continue;
      s.stats.lines = js->value("lines", 0.0);
      s.stats.bytes = js->value("bytes", 0.0);
      s.stats.parse_errors = js->value("parse_errors", 0.0);
      s.stats.unmatched = js->value("unmatched", 0.0);
      s.stats.rotations = js->value("rotations", 0.0);
    }
  }
}

const MetricStore::SeriesData* MetricStore::FindSeries(int metric, const std::vector<std::string>& labels) const {
  for (const SeriesData& s : metrics_[static_cast<size_t>(metric)].series) {
    if (s.labels == labels) return &s;
  }
  return nullptr;
}

double MetricStore::Value(const std::string& metric, const std::vector<std::string>& labels) const {
  std::lock_guard<std::mutex> lock(mu_);
  int id = FindMetric(metric);
  if (id < 0) return std::nan("");
  const SeriesData* s = FindSeries(id, labels);
  return s ? s->value : 0;
}

bool MetricStore::HistogramTotals(const std::string& metric, double* sum, double* count) const {
  std::lock_guard<std::mutex> lock(mu_);
  int id = FindMetric(metric);
  if (id < 0 || metrics_[static_cast<size_t>(id)].def.type != MetricType::kHistogram) return false;
  *sum = 0;
  *count = 0;
  for (const SeriesData& s : metrics_[static_cast<size_t>(id)].series) {
    *sum += s.sum;
    *count += static_cast<double>(s.count);
  }
  return true;
}

double MetricStore::DistinctEstimate(const std::string& metric, const std::string& window, double now) const {
  std::lock_guard<std::mutex> lock(mu_);
  int id = FindMetric(metric);
  if (id < 0) return std::nan("");
  const Metric& m = metrics_[static_cast<size_t>(id)];
  if (m.def.type != MetricType::kDistinct) return std::nan("");
  size_t w = 0;
  while (w < m.def.windows.size() && m.def.windows[w].first != window) ++w;
  if (w == m.def.windows.size()) return std::nan("");
  double total = 0;
  for (const SeriesData& s : m.series) {
    if (s.distinct) total += s.distinct->Estimates(now)[w];
  }
  return total;
}

void MetricStore::TrackHistory(const std::string& metric, const std::vector<std::string>& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  int id = FindMetric(metric);
  if (id < 0) return;
  Metric& m = metrics_[static_cast<size_t>(id)];
  if (m.def.type != MetricType::kCounter || labels.size() != m.def.label_names.size()) return;
  m.history = std::make_unique<MinuteHistory>();
  m.history->labels = labels;
}

void MetricStore::NoteHistory(int metric, size_t series, double event_time, double delta) {
  Metric& m = metrics_[static_cast<size_t>(metric)];
  MinuteHistory& h = *m.history;
  if (h.series == SIZE_MAX && m.series[series].labels == h.labels) h.series = series;
  if (series != h.series || event_time <= 0) return;
  auto minute = static_cast<int64_t>(event_time / 60);
  auto slot = static_cast<size_t>(minute % kHistoryMinutes);
  if (h.minute[slot] != minute) {
    if (h.minute[slot] > minute) return;  // older than the window already holds
    h.minute[slot] = minute;
    h.counts[slot] = 0;
  }
  h.counts[slot] += delta;
}

std::vector<double> MetricStore::History(const std::string& metric, double now) const {
  std::lock_guard<std::mutex> lock(mu_);
  int id = FindMetric(metric);
  if (id < 0 || !metrics_[static_cast<size_t>(id)].history) return {};
  const MinuteHistory& h = *metrics_[static_cast<size_t>(id)].history;
  auto current = static_cast<int64_t>(now / 60);
  std::vector<double> out(kHistoryMinutes, 0);
  for (int i = 0; i < kHistoryMinutes; ++i) {
    int64_t minute = current - (kHistoryMinutes - 1) + i;
    auto slot = static_cast<size_t>(((minute % kHistoryMinutes) + kHistoryMinutes) % kHistoryMinutes);
    if (h.minute[slot] == minute) out[static_cast<size_t>(i)] = h.counts[slot];
  }
  return out;
}

double MetricStore::ValueForTesting(const std::string& metric, const std::vector<std::string>& labels) const {
  std::lock_guard<std::mutex> lock(mu_);
  int id = FindMetric(metric);
  const SeriesData* s = id < 0 ? nullptr : FindSeries(id, labels);
  return s ? s->value : std::nan("");
}

}  // namespace botwatch
