#pragma once

// Reading processes from /proc. Parsing is pure (tested on literal strings);
// ProcFs does the I/O and takes its root as a parameter so tests can point it
// at a fixture tree.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace botwatch {

struct ProcStat {
  int pid = 0;
  std::string comm;
  char state = '?';
  uint64_t utime_ticks = 0;
  uint64_t stime_ticks = 0;
  int64_t num_threads = 0;
  uint64_t starttime_ticks = 0;  // since boot
  uint64_t vsize_bytes = 0;
  int64_t rss_pages = 0;
};

// /proc/<pid>/stat. The comm field may itself contain spaces and parentheses.
Result<ProcStat> ParseProcStat(std::string_view text);
// The "btime" line of /proc/stat: boot time in seconds since the epoch.
Result<double> ParseBootTime(std::string_view proc_stat);
// The soft "Max open files" limit from /proc/<pid>/limits; nullopt for "unlimited".
Result<std::optional<uint64_t>> ParseMaxOpenFiles(std::string_view limits);

struct ProcessSample {
  int pid = 0;
  std::string comm;
  double cpu_seconds = 0;
  double resident_bytes = 0;
  double virtual_bytes = 0;
  double threads = 0;
  double start_time_unix = 0;
  double open_fds = -1;  // -1: not readable (another user's process)
  double max_fds = -1;
  uint64_t starttime_ticks = 0;  // identity together with pid (pids get reused)
  char state = '?';              // R, S, D, T, t, Z... from /proc/<pid>/stat
};

class ProcFs {
 public:
  explicit ProcFs(std::string root = "/proc");

  Result<ProcessSample> Sample(int pid) const;
  std::vector<int> Pids() const;
  // Command line with NUL separators turned into spaces; empty for kernel threads.
  Result<std::string> Cmdline(int pid) const;
  Result<ProcStat> Stat(int pid) const;

 private:
  Result<std::string> Read(const std::string& relative) const;

  std::string root_;
  long ticks_per_second_;
  long page_size_;
};

// Reads a whole small file; errors name the path and errno.
Result<std::string> ReadSmallFile(const std::string& path, size_t limit = 1 << 20);

}  // namespace botwatch
