#pragma once

// `type: process`: watches one process, found by pidfile, exact process name
// (comm) or a regex over its command line, and follows it to its new pid when
// it restarts.

#include <mutex>
#include <optional>
#include <regex>
#include <string>

#include "collectors/collector.h"
#include "collectors/lib/process_metrics.h"
#include "collectors/lib/procfs.h"

namespace botwatch {

class ConfigMap;

class ProcessCollector : public Collector {
 public:
  enum class Selector { kPidfile, kProcessName, kCmdline };

  static std::unique_ptr<Collector> Create(const CollectorSpec& spec, ConfigMap& config);

  ProcessCollector(Selector selector, std::string pattern, std::string procfs_root);
  ProbeResult Collect(const ProbeContext& ctx) override;

 private:
  // The pid of the watched process, or an error saying why none was found.
  Result<int> Find() const;
  Result<int> FindByPidfile() const;

  Selector selector_;
  std::string pattern_;  // pidfile path, process name or cmdline regex source
  std::optional<std::regex> cmdline_regex_;
  ProcFs procfs_;

  // (pid, start ticks) of the process last seen; a different one means a restart.
  std::optional<std::pair<int, uint64_t>> last_identity_;
  uint64_t restarts_ = 0;
  FreezeWatch freeze_;
};

}  // namespace botwatch
