#include "collectors/process.h"

#include <unistd.h>

#include <limits>

#include "base/config_node.h"
#include "collectors/lib/process_metrics.h"
#include "collectors/registry.h"

namespace botwatch {

BOTWATCH_REGISTER_COLLECTOR("process", ProcessCollector::Create);

std::unique_ptr<Collector> ProcessCollector::Create(const CollectorSpec&, ConfigMap& config) {
  std::string key = config.OneOf({"pidfile", "process_name", "cmdline"});
  std::string pattern = config.RequiredString(key);
  std::string procfs = config.String("procfs", "/proc");
  Selector selector = key == "pidfile"        ? Selector::kPidfile
                      : key == "process_name" ? Selector::kProcessName
                                              : Selector::kCmdline;
  if (selector == Selector::kCmdline) {
    try {
      std::regex check(pattern, std::regex::extended);
    } catch (const std::regex_error& e) {
      config.FailAt("cmdline", std::string("invalid regular expression: ") + e.what());
    }
  }
  if (selector == Selector::kProcessName && pattern.size() > 15) {
    // The kernel truncates comm to 15 bytes, so a longer name could never match.
    config.FailAt("process_name",
                  "process names are at most 15 characters (the kernel's comm); use cmdline for longer ones");
  }
  return std::make_unique<ProcessCollector>(selector, std::move(pattern), std::move(procfs));
}

ProcessCollector::ProcessCollector(Selector selector, std::string pattern, std::string procfs_root)
    : selector_(selector), pattern_(std::move(pattern)), procfs_(std::move(procfs_root)) {
  if (selector_ == Selector::kCmdline) cmdline_regex_.emplace(pattern_, std::regex::extended);
}

Result<int> ProcessCollector::FindByPidfile() const {
  Result<std::string> text = ReadSmallFile(pattern_, 64);
  if (!text.ok()) return Status::Error("cannot read pidfile: " + text.status().message());
  std::string s = text.value();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  char* end = nullptr;
  long pid = std::strtol(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || pid <= 0 || pid > std::numeric_limits<int>::max()) {
    return Status::Error("pidfile " + pattern_ + " does not hold a pid");
  }
  return static_cast<int>(pid);
}

Result<int> ProcessCollector::Find() const {
  if (selector_ == Selector::kPidfile) return FindByPidfile();
  // Several matches (workers, a shell wrapper): watch the oldest, which is the
  // parent that a supervisor restarts.
  int best = 0;
  uint64_t best_start = std::numeric_limits<uint64_t>::max();
  for (int pid : procfs_.Pids()) {
    Result<ProcStat> st = procfs_.Stat(pid);
    if (!st.ok() || st->state == 'Z') continue;
    bool match = false;
    if (selector_ == Selector::kProcessName) {
      match = st->comm == pattern_;
    } else {
      Result<std::string> cmd = procfs_.Cmdline(pid);
      match = cmd.ok() && !cmd->empty() && std::regex_search(cmd.value(), *cmdline_regex_);
    }
    if (match && st->starttime_ticks < best_start) {
      best = pid;
      best_start = st->starttime_ticks;
    }
  }
  if (best == 0) {
    return Status::Error(std::string("no process with ") +
                         (selector_ == Selector::kProcessName ? "name " : "command line matching ") + "\"" + pattern_ +
                         "\"");
  }
  return best;
}

ProbeResult ProcessCollector::Collect(const ProbeContext& ctx) {
  // A D state is frozen once it outlasts the probe's own timeout.
  const Duration patience = ctx.Remaining();
  FamilyBuilder fb;
  auto emit_restarts = [&] { AddProcessRestartsFamily(static_cast<double>(restarts_), fb); };

  Result<int> pid = Find();
  Result<ProcessSample> sample = pid.ok() ? procfs_.Sample(pid.value()) : Result<ProcessSample>(pid.status());
  if (!sample.ok()) {
    emit_restarts();
    ProbeResult r = ProbeResult::Down(reason::kNotFound, sample.status().message());
    r.families = fb.Take();
    return r;
  }
  const ProcessSample& s = sample.value();
  std::pair<int, uint64_t> identity{s.pid, s.starttime_ticks};
  if (last_identity_ && *last_identity_ != identity) ++restarts_;
  last_identity_ = identity;

  AddProcessSampleFamilies(s, fb);
  emit_restarts();
  // A process collector may watch botwatch itself (config/botwatch.yaml's
  // `self`): the summary, the status page and the alerts' "is the bot running"
  // guard must not take it for the bot.
  fb.Gauge("botwatch_process_is_botwatch",
           "Whether the watched process is this botwatch itself (1), which is never taken for the bot.",
           s.pid == static_cast<int>(::getpid()) ? 1 : 0);
  std::string frozen = freeze_.Check(s, patience);
  ProbeResult r = frozen.empty() ? ProbeResult::Up() : ProbeResult::Down(reason::kFrozen, frozen);
  r.families = fb.Take();
  return r;
}

}  // namespace botwatch
