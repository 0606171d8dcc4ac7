#pragma once

// `type: exec`: runs a check program (Boost.Process) with its own args, env and
// working directory. It runs in a process group of its own; past the deadline,
// when its output grows over the bound, or as soon as it exits, that whole
// group is killed, so no grandchild survives a probe and the probe never waits
// for one. The child itself is always reaped (no zombie). Only the group is
// tracked: a descendant that leaves it (setsid, setpgid) is neither killed nor
// waited for, and does not change the probe's result.
//
// Exit code 0 means up. If stdout is Prometheus text exposition it is
// validated strictly (prom/text_format.h) and exported with the
// `collector` label.

#include <map>
#include <string>
#include <vector>

#include "collectors/collector.h"

namespace botwatch {

class ConfigMap;

struct ExecConfig {
  enum class Output { kAuto, kPrometheus, kIgnore };

  std::string command;  // a path, or a name looked up in PATH at each run
  std::vector<std::string> args;
  std::map<std::string, std::string> env;  // values may be credentials: never logged
  bool inherit_env = true;
  std::string working_dir;  // empty: botwatch's own
  size_t max_output_bytes = 256 * 1024;
  Output output = Output::kAuto;
};

// What one run produced, before interpretation.
struct ExecRun {
  bool started = false;
  std::string start_error;
  bool timed_out = false;
  bool output_too_large = false;
  int exit_code = -1;  // -1 when killed or never started
  std::string output;
  double seconds = 0;
};

class ExecCollector : public Collector {
 public:
  static std::unique_ptr<Collector> Create(const CollectorSpec& spec, ConfigMap& config);

  explicit ExecCollector(ExecConfig config);
  ProbeResult Collect(const ProbeContext& ctx) override;

  // Turns a run into up/down, reason and families (pure, tested on its own).
  ProbeResult Evaluate(const ExecRun& run) const;

 private:
  ExecRun Run(SteadyTime deadline) const;

  ExecConfig config_;
};

}  // namespace botwatch
