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
// The cgroup v2 path ("0::/path" line) of /proc/<pid>/cgroup; nullopt under cgroup v1 only.
std::optional<std::string> ParseCgroupV2Path(std::string_view proc_pid_cgroup);
// A cgroup v2 memory.max file: bytes, or nullopt for "max" (no limit).
Result<std::optional<uint64_t>> ParseMemoryMax(std::string_view memory_max);

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
  double memory_limit_bytes = -1;  // -1: no cgroup v2 memory.max on the process's cgroup or its ancestors
  uint64_t starttime_ticks = 0;    // identity together with pid (pids get reused)
  char state = '?';                // R, S, D, T, t, Z... from /proc/<pid>/stat
};

class ProcFs {
 public:
  explicit ProcFs(std::string root = "/proc", std::string cgroup_root = "/sys/fs/cgroup");

  Result<ProcessSample> Sample(int pid) const;
  std::vector<int> Pids() const;
  // Command line with NUL separators turned into spaces; empty for kernel threads.
  Result<std::string> Cmdline(int pid) const;
  Result<ProcStat> Stat(int pid) const;

 private:
  Result<std::string> Read(const std::string& relative) const;

  // The tightest memory.max of the process's cgroup and its ancestors, in bytes.
  std::optional<uint64_t> MemoryLimit(int pid) const;

  std::string root_;
  std::string cgroup_root_;
  long ticks_per_second_;
  long page_size_;
};

// Reads a whole small file; errors name the path and errno.
Result<std::string> ReadSmallFile(const std::string& path, size_t limit = 1 << 20);

}  // namespace botwatch
