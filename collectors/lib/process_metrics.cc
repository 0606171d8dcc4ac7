#include "collectors/lib/process_metrics.h"

namespace botwatch {

std::string FreezeWatch::Check(const ProcessSample& s, Duration patience, Clock::time_point now) {
  std::pair<int, uint64_t> identity{s.pid, s.starttime_ticks};
  if (identity != identity_) {
    identity_ = identity;
    d_since_.reset();
  }
  if (s.state == 'T' || s.state == 't') {
    d_since_.reset();
    return "process " + std::to_string(s.pid) + " is stopped (state " + std::string(1, s.state) +
           ": SIGSTOP or a debugger); it runs no code";
  }
  if (s.state != 'D') {
    d_since_.reset();
    return "";
  }
  if (!d_since_) d_since_ = now;
  if (now - *d_since_ < patience) return "";
  return "process " + std::to_string(s.pid) + " has been in uninterruptible sleep (state D) for over " +
         FormatDuration(patience) + " (stuck in I/O)";
}

void AddProcessSampleFamilies(const ProcessSample& s, FamilyBuilder& fb, const FamilyBuilder::Labels& labels) {
  fb.Gauge("botwatch_process_resident_memory_bytes", "Resident set size of the watched process.", s.resident_bytes,
           labels);
  fb.Gauge("botwatch_process_virtual_memory_bytes", "Virtual memory size of the watched process.", s.virtual_bytes,
           labels);
  fb.Counter("botwatch_process_cpu_seconds_total", "User and system CPU time of the watched process.", s.cpu_seconds,
             labels);
  fb.Gauge("botwatch_process_threads", "Threads of the watched process.", s.threads, labels);
  fb.Gauge("botwatch_process_start_time_seconds", "Start time of the watched process since the epoch.",
           s.start_time_unix, labels);
  // -1: another user's process, whose fd table this process may not read.
  if (s.open_fds >= 0) {
    fb.Gauge("botwatch_process_open_fds", "Open file descriptors of the watched process.", s.open_fds, labels);
  }
  if (s.memory_limit_bytes >= 0) {
    fb.Gauge("botwatch_process_memory_limit_bytes",
             "Memory limit of the watched process's cgroup v2 (the tightest memory.max up to the root), when set.",
             s.memory_limit_bytes, labels);
  }
  if (s.max_fds >= 0) {
    fb.Gauge("botwatch_process_max_fds", "File descriptor limit of the watched process.", s.max_fds, labels);
  }
}

void AddProcessRestartsFamily(double restarts, FamilyBuilder& fb, const FamilyBuilder::Labels& labels) {
  fb.Counter("botwatch_process_restarts_total", "Times the watched process was seen with a new pid or start time.",
             restarts, labels);
}

}  // namespace botwatch
