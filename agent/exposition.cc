#include "agent/exposition.h"

#include <unistd.h>

#include <cmath>
#include <limits>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/state_file.h"
#include "collectors/collector.h"
#include "prom/text_format.h"

namespace botwatch {

Families CollectorFamilies(const std::vector<std::shared_ptr<const CollectorSnapshot>>& snapshots) {
  FamilyBuilder fb;
  for (const auto& s : snapshots) {
    FamilyBuilder::Labels id = {{"collector", s->spec.name}, {"type", s->spec.type}};
    fb.Gauge("botwatch_collector_up", "Whether the collector's last probe succeeded (1) or not (0).", s->up ? 1 : 0,
             id);
    fb.Gauge("botwatch_collector_duration_seconds", "Duration of the collector's last probe.", s->duration_seconds, id);
    fb.Gauge("botwatch_collector_last_success_timestamp_seconds",
             "Unix time of the collector's last successful probe (0: never).", s->last_success_unix, id);
    for (const auto& [why, count] : s->errors_by_reason) {
      FamilyBuilder::Labels labels = id;
      labels.emplace_back("reason", why);
      fb.Counter("botwatch_collector_errors_total", "Failed probes of the collector, by reason.",
                 static_cast<double>(count), labels);
    }
  }
  Families out = fb.Take();
  for (const auto& s : snapshots) {
    if (s->up || !s->families.empty()) MergeFamilies(out, s->families);
  }
  return out;
}

Families StateWriteErrorFamilies() {
  prometheus::MetricFamily f{"botwatch_state_write_errors_total",
                             "Writes to a file in state_dir that failed (disk full, read-only, a planted link); "
                             "while they fail, counts and samples are kept in memory only.",
                             prometheus::MetricType::Counter,
                             {}};
  for (const auto& [file, n] : StateWriteErrors()) {
    prometheus::ClientMetric m;
    m.label.push_back({"file", file});
    m.counter.value = static_cast<double>(n);
    f.metric.push_back(std::move(m));
  }
  if (f.metric.empty()) return {};
  return {std::move(f)};
}

Families SelfProcessFamilies(const ProcFs& procfs) {
  FamilyBuilder fb;
  Result<ProcessSample> s = procfs.Sample(static_cast<int>(::getpid()));
  if (!s.ok()) return fb.Take();
  fb.Counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", s->cpu_seconds);
  fb.Gauge("process_resident_memory_bytes", "Resident memory size in bytes.", s->resident_bytes);
  fb.Gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", s->virtual_bytes);
  fb.Gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", s->start_time_unix);
  if (s->open_fds >= 0) fb.Gauge("process_open_fds", "Number of open file descriptors.", s->open_fds);
  if (s->max_fds >= 0) fb.Gauge("process_max_fds", "Maximum number of open file descriptors.", s->max_fds);
  fb.Gauge("process_threads", "Number of OS threads in the process.", s->threads);
  return fb.Take();
}

namespace {

double* SimpleValue(prometheus::ClientMetric& m, prometheus::MetricType type) {
  switch (type) {
    case prometheus::MetricType::Counter:
      return &m.counter.value;
    case prometheus::MetricType::Gauge:
      return &m.gauge.value;
    case prometheus::MetricType::Untyped:
      return &m.untyped.value;
    default:
      return nullptr;
  }
}

// One name has one TYPE in the text format. When two sources disagree (a
// carried program's untyped process_cpu_seconds_total beside botwatch's own
// counter), single-value samples move into the first source's type; samples
// whose shape cannot (a histogram under a gauge's name) are left out.
bool CarryValues(prometheus::MetricType from, prometheus::MetricType to,
                 std::vector<prometheus::ClientMetric>& metrics) {
  for (auto& m : metrics) {
    double* src = SimpleValue(m, from);
    double* dst = SimpleValue(m, to);
    if (src == nullptr || dst == nullptr) return false;
    *dst = *src;
  }
  return true;
}

}  // namespace

void MergeFamilies(Families& into, Families more) {
  std::unordered_map<std::string, size_t> index;
  for (size_t i = 0; i < into.size(); ++i) index.emplace(into[i].name, i);
  for (auto& f : more) {
    auto it = index.find(f.name);
    if (it == index.end()) {
      index.emplace(f.name, into.size());
      into.push_back(std::move(f));
      continue;
    }
    prometheus::MetricFamily& family = into[it->second];
    if (f.type != family.type && !CarryValues(f.type, family.type, f.metric)) continue;
    family.metric.insert(family.metric.end(), std::make_move_iterator(f.metric.begin()),
                         std::make_move_iterator(f.metric.end()));
    if (into[it->second].help.empty()) into[it->second].help = std::move(f.help);
  }
}

namespace {

void AppendEscaped(std::string& out, std::string_view text, bool quotes) {
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quotes && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

// An le or quantile label: its value as another program spelled it, or else
// as botwatch writes numbers.
struct PointLabel {
  const char* name;
  double value;
  std::string_view spelling;  // empty: format `value`
};

bool IsSpellings(const prometheus::ClientMetric::Label& l) { return l.name == kPointSpellingsLabel; }

// name{labels,point} value [timestamp]
void AppendSample(std::string& out, const std::string& name, const char* suffix, const prometheus::ClientMetric& m,
                  const PointLabel* point, double value) {
  out += name;
  out += suffix;
  size_t labels = m.label.size() - (!m.label.empty() && IsSpellings(m.label.back()) ? 1 : 0);
  if (labels > 0 || point) {
    out += '{';
    for (size_t i = 0; i < labels; ++i) {
      if (i > 0) out += ',';
      out += m.label[i].name;
      out += "=\"";
      AppendEscaped(out, m.label[i].value, true);
      out += '"';
    }
    if (point) {
      if (labels > 0) out += ',';
      out += point->name;
      out += "=\"";
      if (point->spelling.empty()) {
        AppendValue(out, point->value);
      } else {
        AppendEscaped(out, point->spelling, true);
      }
      out += '"';
    }
    out += '}';
  }
  out += ' ';
  AppendValue(out, value);
  if (m.timestamp_ms != 0) {
    out += ' ';
    out += std::to_string(m.timestamp_ms);
  }
  out += '\n';
}

// The producer's spellings of a sample's points (kPointSpellingsLabel), if it
// carries them and they match its points one to one; otherwise none.
class Spellings {
 public:
  Spellings(const prometheus::ClientMetric& m, size_t points) {
    if (m.label.empty() || !IsSpellings(m.label.back())) return;
    std::string_view all = m.label.back().value;
    std::vector<std::string_view> parts;
    while (true) {
      size_t cut = all.find(kPointSpellingSeparator);
      parts.push_back(all.substr(0, cut));
      if (cut == std::string_view::npos) break;
      all.remove_prefix(cut + 1);
    }
    if (parts.size() == points) parts_ = std::move(parts);
  }
  std::string_view At(size_t i) const { return i < parts_.size() ? parts_[i] : std::string_view(); }

 private:
  std::vector<std::string_view> parts_;
};

const char* TypeName(prometheus::MetricType t) {
  switch (t) {
    case prometheus::MetricType::Counter:
      return "counter";
    case prometheus::MetricType::Gauge:
      return "gauge";
    case prometheus::MetricType::Summary:
      return "summary";
    case prometheus::MetricType::Histogram:
      return "histogram";
    case prometheus::MetricType::Untyped:
      break;
  }
  return "untyped";
}

}  // namespace

// Our own writer instead of prometheus::TextSerializer, whose 16 significant
// digits change values that need 17 (a carried 1.7963948071449037e+09 came
// out as 1796394807.144904) and which writes HELP text unescaped (one newline
// in a user's help text broke the whole scrape). The layout is otherwise the
// same: HELP (when there is one), TYPE, then the samples.
std::string SerializeFamilies(const Families& families) {
  std::string out;
  size_t samples = 0;
  for (const auto& f : families) samples += f.metric.size();
  out.reserve(samples * 96 + families.size() * 128);
  for (const auto& f : families) {
    if (!f.help.empty()) {
      out += "# HELP ";
      out += f.name;
      out += ' ';
      AppendEscaped(out, f.help, false);
      out += '\n';
    }
    out += "# TYPE ";
    out += f.name;
    out += ' ';
    out += TypeName(f.type);
    out += '\n';
    for (const auto& m : f.metric) {
      switch (f.type) {
        case prometheus::MetricType::Counter:
          AppendSample(out, f.name, "", m, nullptr, m.counter.value);
          break;
        case prometheus::MetricType::Gauge:
          AppendSample(out, f.name, "", m, nullptr, m.gauge.value);
          break;
        case prometheus::MetricType::Untyped:
          AppendSample(out, f.name, "", m, nullptr, m.untyped.value);
          break;
        case prometheus::MetricType::Summary: {
          Spellings spelled(m, m.summary.quantile.size());
          AppendSample(out, f.name, "_count", m, nullptr, static_cast<double>(m.summary.sample_count));
          AppendSample(out, f.name, "_sum", m, nullptr, m.summary.sample_sum);
          for (size_t i = 0; i < m.summary.quantile.size(); ++i) {
            PointLabel quantile{"quantile", m.summary.quantile[i].quantile, spelled.At(i)};
            AppendSample(out, f.name, "", m, &quantile, m.summary.quantile[i].value);
          }
          break;
        }
        case prometheus::MetricType::Histogram: {
          const auto& buckets = m.histogram.bucket;
          bool implicit_inf = buckets.empty() || !std::isinf(buckets.back().upper_bound);
          Spellings spelled(m, buckets.size() + (implicit_inf ? 1 : 0));
          AppendSample(out, f.name, "_count", m, nullptr, static_cast<double>(m.histogram.sample_count));
          AppendSample(out, f.name, "_sum", m, nullptr, m.histogram.sample_sum);
          for (size_t i = 0; i < buckets.size(); ++i) {
            PointLabel le{"le", buckets[i].upper_bound, spelled.At(i)};
            AppendSample(out, f.name, "_bucket", m, &le, static_cast<double>(buckets[i].cumulative_count));
          }
          // The format requires a +Inf bucket; builders may leave it implicit.
          if (implicit_inf) {
            PointLabel inf{"le", std::numeric_limits<double>::infinity(), spelled.At(buckets.size())};
            AppendSample(out, f.name, "_bucket", m, &inf, static_cast<double>(m.histogram.sample_count));
          }
          break;
        }
      }
    }
  }
  return out;
}

}  // namespace botwatch
