#include "agent/scheduler.h"

#include <algorithm>

#include "base/logging.h"
#include "base/unix_time.h"

namespace botwatch {

// What botwatch probes often starts with it: the bot it supervises, the
// database beside it. So a collector's very first failure is logged at info
// ("not up yet"), and only a second failure in a row is the warning; a
// dependency that is really down is named one interval later. Metrics and the
// status API show the truth from the first probe.
void Scheduler::LogTransition(State& state, size_t i, SnapshotCache::Transition t, const std::string& why,
                              const std::string& message) {
  using T = SnapshotCache::Transition;
  const CollectorSpec& spec = state.collectors[i].spec;
  const bool down = why != reason::kOk;
  std::atomic<bool>& quiet = state.first_failure_quiet[i];
  if (t == T::kFirst && down) {
    quiet = true;
    logging::Info("collector not up yet",
                  {{"collector", spec.name}, {"type", spec.type}, {"reason", why}, {"err", message}});
  } else if (t == T::kWentDown || (down && quiet.exchange(false))) {
    logging::Warn("collector down", {{"collector", spec.name}, {"type", spec.type}, {"reason", why}, {"err", message}});
  } else if (t == T::kRecovered) {
    logging::Info(quiet.exchange(false) ? "collector up" : "collector recovered",
                  {{"collector", spec.name}, {"type", spec.type}});
  }
}

ScheduleBook::ScheduleBook(const std::vector<CollectorSpec>& specs, SteadyTime start) {
  slots_.reserve(specs.size());
  for (const CollectorSpec& spec : specs) {
    Slot s;
    s.interval = spec.interval;
    s.timeout = spec.timeout;
    s.next_due = start;  // first probe at once, so /-/ready comes quickly
    slots_.push_back(s);
  }
}

std::vector<size_t> ScheduleBook::StartDue(SteadyTime now) {
  std::vector<size_t> due;
  for (size_t i = 0; i < slots_.size(); ++i) {
    Slot& s = slots_[i];
    if (s.running || now < s.next_due) continue;
    s.running = true;
    s.expired = false;
    s.deadline = now + s.timeout;
    // Keep the phase: the next probe is one interval after this one started.
    s.next_due += s.interval;
    if (s.next_due <= now) s.next_due = now + s.interval;
    due.push_back(i);
  }
  return due;
}

std::vector<size_t> ScheduleBook::ExpireOverdue(SteadyTime now) {
  std::vector<size_t> overdue;
  for (size_t i = 0; i < slots_.size(); ++i) {
    Slot& s = slots_[i];
    if (s.running && !s.expired && now >= s.deadline) {
      s.expired = true;
      overdue.push_back(i);
    }
  }
  return overdue;
}

bool ScheduleBook::Finish(size_t i, SteadyTime now) {
  Slot& s = slots_[i];
  bool wanted = s.running && !s.expired;
  s.running = false;
  s.expired = false;
  // A probe that hung past several intervals runs again right away, not in a burst.
  if (s.next_due < now) s.next_due = now;
  return wanted;
}

SteadyTime ScheduleBook::NextWakeup() const {
  SteadyTime next = SteadyTime::max();
  for (const Slot& s : slots_) {
    if (!s.running)
      next = std::min(next, s.next_due);
    else if (!s.expired)
      next = std::min(next, s.deadline);
  }
  return next;
}

Scheduler::Scheduler(std::vector<CollectorInstance> collectors, SnapshotCache* cache, int workers)
    : state_(std::make_shared<State>()),
      worker_count_(std::max(1, std::min<int>(workers, static_cast<int>(collectors.size())))) {
  state_->collectors = std::move(collectors);
  state_->cache = cache;
  state_->first_failure_quiet = std::make_unique<std::atomic<bool>[]>(state_->collectors.size());
}

Scheduler::~Scheduler() { Stop(); }

void Scheduler::Start() {
  if (started_) return;
  started_ = true;
  std::vector<CollectorSpec> specs;
  for (const auto& c : state_->collectors) specs.push_back(c.spec);
  state_->book = std::make_unique<ScheduleBook>(specs, std::chrono::steady_clock::now());
  if (state_->collectors.empty()) return;
  state_->workers_alive = worker_count_;
  for (int i = 0; i < worker_count_; ++i) workers_.emplace_back(&Scheduler::WorkerLoop, state_);
  dispatcher_ = std::thread(&Scheduler::DispatchLoop, state_);
}

void Scheduler::Stop(Duration grace) {
  if (!started_) return;
  started_ = false;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->stop = true;
    state_->queue.clear();
  }
  state_->dispatch_cv.notify_all();
  state_->work_cv.notify_all();
  if (dispatcher_.joinable()) dispatcher_.join();
  {
    std::unique_lock<std::mutex> lock(state_->mu);
    state_->exit_cv.wait_for(lock, grace, [&] { return state_->workers_alive == 0; });
    if (state_->workers_alive > 0) {
      logging::Warn("probes still running at shutdown; leaving them behind",
                    {{"count", std::to_string(state_->workers_alive)}});
    }
  }
  for (auto& w : workers_) w.detach();  // exited ones are gone; stragglers own `state_`
  workers_.clear();
}

void Scheduler::DispatchLoop(std::shared_ptr<State> state) {
  std::unique_lock<std::mutex> lock(state->mu);
  while (!state->stop) {
    SteadyTime now = std::chrono::steady_clock::now();
    for (size_t i : state->book->ExpireOverdue(now)) {
      const CollectorSpec& spec = state->collectors[i].spec;
      ProbeOutcome outcome;
      outcome.result = ProbeResult::Down(reason::kTimeout,
                                         "probe did not finish within its timeout of " + FormatDuration(spec.timeout));
      outcome.duration_seconds = ToSeconds(spec.timeout);
      outcome.finished_unix = UnixNow();
      lock.unlock();
      std::string message = outcome.result.message;
      LogTransition(*state, i, state->cache->Publish(spec.name, std::move(outcome)), reason::kTimeout, message);
      lock.lock();
    }
    for (size_t i : state->book->StartDue(now)) state->queue.push_back(i);
    state->work_cv.notify_all();
    SteadyTime wake = state->book->NextWakeup();
    if (wake == SteadyTime::max()) {
      state->dispatch_cv.wait(lock);
    } else {
      state->dispatch_cv.wait_until(lock, wake);
    }
  }
}

void Scheduler::WorkerLoop(std::shared_ptr<State> state) {
  std::unique_lock<std::mutex> lock(state->mu);
  while (true) {
    state->work_cv.wait(lock, [&] { return state->stop || !state->queue.empty(); });
    if (state->stop) break;
    size_t i = state->queue.front();
    state->queue.pop_front();
    SteadyTime deadline = state->book->slot(i).deadline;
    lock.unlock();
    RunProbe(*state, i, deadline);
    lock.lock();
  }
  --state->workers_alive;
  state->exit_cv.notify_all();
}

void Scheduler::RunProbe(State& state, size_t i, SteadyTime deadline) {
  const CollectorInstance& inst = state.collectors[i];
  ProbeContext ctx{deadline};
  auto started = std::chrono::steady_clock::now();
  ProbeOutcome outcome;
  try {
    outcome.result = inst.collector->Collect(ctx);
  } catch (const std::exception& e) {
    // The contract says Collect() never throws; if one does, it is our bug, and
    // it must cost one failed probe, not the process.
    outcome.result = ProbeResult::Down(reason::kInternal, std::string("internal error: ") + e.what());
  } catch (...) {
    outcome.result = ProbeResult::Down(reason::kInternal, "internal error");
  }
  auto finished = std::chrono::steady_clock::now();
  outcome.duration_seconds = std::chrono::duration<double>(finished - started).count();
  outcome.finished_unix = UnixNow();
  bool wanted;
  {
    std::lock_guard<std::mutex> lock(state.mu);
    wanted = state.book->Finish(i, finished) && !state.stop;
  }
  state.dispatch_cv.notify_all();
  if (!wanted) return;
  if (!outcome.result.up) {
    logging::Debug("probe failed",
                   {{"collector", inst.spec.name}, {"reason", outcome.result.reason}, {"err", outcome.result.message}});
  }
  std::string why = outcome.result.reason, message = outcome.result.message;
  LogTransition(state, i, state.cache->Publish(inst.spec.name, std::move(outcome)), why, message);
}

}  // namespace botwatch
