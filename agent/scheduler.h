#pragma once

// Runs each collector on its own interval on a small worker pool and bounds
// every probe by its timeout: when a probe overruns, its snapshot says
// "timeout" at the deadline, whether or not the probe ever returns.

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "agent/config.h"
#include "agent/snapshot_cache.h"

namespace botwatch {

// The timing rules alone, with time passed in: what is due, what has overrun,
// when to wake next. Tests drive it with a fake clock.
class ScheduleBook {
 public:
  struct Slot {
    Duration interval;
    Duration timeout;
    SteadyTime next_due;
    SteadyTime deadline;
    bool running = false;
    bool expired = false;  // running past its deadline; its result will be dropped
  };

  ScheduleBook(const std::vector<CollectorSpec>& specs, SteadyTime start);

  // Idle slots whose time has come; each is marked running with a deadline.
  std::vector<size_t> StartDue(SteadyTime now);
  // Running slots past their deadline, each reported once.
  std::vector<size_t> ExpireOverdue(SteadyTime now);
  // The probe of slot `i` returned. True if its result is still wanted.
  bool Finish(size_t i, SteadyTime now);
  // When something next needs attention; time_point::max() when nothing will.
  SteadyTime NextWakeup() const;

  const Slot& slot(size_t i) const { return slots_[i]; }
  size_t size() const { return slots_.size(); }

 private:
  std::vector<Slot> slots_;
};

class Scheduler {
 public:
  Scheduler(std::vector<CollectorInstance> collectors, SnapshotCache* cache, int workers);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  void Start();
  // Stops dispatching and waits for running probes up to `grace`; a probe that
  // ignores its deadline longer than that is left to finish on a detached thread.
  void Stop(Duration grace = std::chrono::seconds(2));

 private:
  // Shared with worker threads so that a detached straggler never touches freed memory.
  struct State {
    std::vector<CollectorInstance> collectors;
    SnapshotCache* cache;
    std::mutex mu;
    std::condition_variable dispatch_cv;
    std::condition_variable work_cv;
    std::condition_variable exit_cv;
    std::deque<size_t> queue;
    std::unique_ptr<ScheduleBook> book;
    bool stop = false;
    int workers_alive = 0;
    // Per collector: its first probe failed and that was logged at info only
    // (see LogTransition); the next failure in a row is the warning.
    std::unique_ptr<std::atomic<bool>[]> first_failure_quiet;
  };
  static void LogTransition(State& state, size_t i, SnapshotCache::Transition t, const std::string& why,
                            const std::string& message);

  static void DispatchLoop(std::shared_ptr<State> state);
  static void WorkerLoop(std::shared_ptr<State> state);
  static void RunProbe(State& state, size_t i, SteadyTime deadline);

  std::shared_ptr<State> state_;
  int worker_count_;
  std::thread dispatcher_;
  std::vector<std::thread> workers_;
  bool started_ = false;
};

}  // namespace botwatch
