#include "agent/exposition.h"

#include <prometheus/text_serializer.h>
#include <unistd.h>

#include <algorithm>
#include <unordered_map>

#include "collectors/collector.h"

namespace botwatch {

Families CollectorFamilies(const std::vector<std::shared_ptr<const CollectorSnapshot>>& snapshots) {
  FamilyBuilder fb;
  for (const auto& s : snapshots) {
    FamilyBuilder::Labels id = {{"collector", s->spec.name}, {"type", s->spec.type}};
    fb.Gauge("botwatch_collector_up", "Whether the collector's last probe succeeded (1) or not (0).",
             s->up ? 1 : 0, id);
    fb.Gauge("botwatch_collector_duration_seconds", "Duration of the collector's last probe.",
             s->duration_seconds, id);
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
    auto& target = into[it->second].metric;
    target.insert(target.end(), std::make_move_iterator(f.metric.begin()),
                  std::make_move_iterator(f.metric.end()));
    if (into[it->second].help.empty()) into[it->second].help = std::move(f.help);
  }
}

namespace {

bool HelpNeedsEscaping(const prometheus::MetricFamily& f) { return f.help.find_first_of("\\\n") != std::string::npos; }

std::string EscapeHelp(const std::string& help) {
  std::string out;
  out.reserve(help.size() + 8);
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

// prometheus-cpp 1.0 writes HELP text verbatim, but the format requires `\`
// and newline to be escaped there. Help texts come from users too (log rules,
// SQL queries, exec checks): one newline would otherwise break the whole
// scrape. The copy is made only when some help needs it.
std::string SerializeFamilies(const Families& families) {
  if (std::none_of(families.begin(), families.end(), HelpNeedsEscaping)) {
    return prometheus::TextSerializer().Serialize(families);
  }
  Families escaped = families;
  for (auto& f : escaped) {
    if (HelpNeedsEscaping(f)) f.help = EscapeHelp(f.help);
  }
  return prometheus::TextSerializer().Serialize(escaped);
}

}  // namespace botwatch
