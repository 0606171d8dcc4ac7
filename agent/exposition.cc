#include "agent/exposition.h"

#include <unistd.h>

#include <string>
#include <string_view>
#include <unordered_map>

#include "base/state_file.h"
#include "prom/family_builder.h"

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
  Family f{"botwatch_state_write_errors_total",
           "Writes to a file in state_dir that failed (disk full, read-only, a planted link); "
           "while they fail, counts and samples are kept in memory only.",
           prometheus::MetricType::Counter,
           {}};
  for (const auto& [file, n] : StateWriteErrors()) {
    Family::Metric m;
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

double* SimpleValue(Family::Metric& m, prometheus::MetricType type) {
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
bool CarryValues(prometheus::MetricType from, prometheus::MetricType to, std::vector<Family::Metric>& metrics) {
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
    Family& family = into[it->second];
    if (f.type != family.type && !CarryValues(f.type, family.type, f.metric)) continue;
    family.metric.insert(family.metric.end(), std::make_move_iterator(f.metric.begin()),
                         std::make_move_iterator(f.metric.end()));
    if (into[it->second].help.empty()) into[it->second].help = std::move(f.help);
  }
}

}  // namespace botwatch
