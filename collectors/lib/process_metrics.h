#pragma once

// The botwatch_process_* families of one sampled process. One definition for
// the `process` collector and for the child of supervise mode, so both export
// the same names, types and HELP text.

#include "collectors/collector.h"
#include "collectors/lib/procfs.h"

#include <chrono>
#include <optional>
#include <string>
#include <utility>

#include "base/duration.h"

namespace botwatch {

// Memory, CPU, threads, start time and file descriptors of `sample`.
void AddProcessSampleFamilies(const ProcessSample& sample, FamilyBuilder& fb, const FamilyBuilder::Labels& labels = {});

// Tells a frozen process from a running one. A process that exists but does
// not run answers nothing, yet a pid-based check would call it up: the case a
// platform health check must restart. Stopped (T: SIGSTOP; t: a debugger) is
// frozen at once; uninterruptible sleep (D) only after `patience`, because a
// short D is ordinary disk I/O.
class FreezeWatch {
 public:
  using Clock = std::chrono::steady_clock;
  // "" while `sample` runs normally, else why it is frozen (one line).
  std::string Check(const ProcessSample& sample, Duration patience, Clock::time_point now = Clock::now());

 private:
  std::pair<int, uint64_t> identity_{};
  std::optional<Clock::time_point> d_since_;
};

// botwatch_process_restarts_total: how often the watched process came back
// as a new process.
void AddProcessRestartsFamily(double restarts, FamilyBuilder& fb, const FamilyBuilder::Labels& labels = {});

}  // namespace botwatch
