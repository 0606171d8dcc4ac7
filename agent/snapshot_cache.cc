#include "agent/snapshot_cache.h"

namespace botwatch {

void SnapshotCache::Reset(const std::vector<CollectorSpec>& specs) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::shared_ptr<const CollectorSnapshot>> next;
  next.reserve(specs.size());
  for (const CollectorSpec& spec : specs) {
    std::shared_ptr<const CollectorSnapshot> kept;
    for (const auto& old : snapshots_) {
      if (old->spec.name == spec.name && old->spec.type == spec.type) kept = old;
    }
    auto snap = kept ? std::make_shared<CollectorSnapshot>(*kept) : std::make_shared<CollectorSnapshot>();
    snap->spec = spec;
    next.push_back(std::move(snap));
  }
  snapshots_ = std::move(next);
}

SnapshotCache::Transition SnapshotCache::Publish(const std::string& name, ProbeOutcome outcome) {
  // Build outside the lock; only the pointer swap happens under it.
  std::shared_ptr<const CollectorSnapshot> old;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& s : snapshots_) {
      if (s->spec.name == name) old = s;
    }
  }
  if (!old) return Transition::kNone;  // removed by a reload while the probe ran
  auto snap = std::make_shared<CollectorSnapshot>();
  snap->spec = old->spec;
  snap->errors_by_reason = old->errors_by_reason;
  snap->last_success_unix = old->last_success_unix;
  snap->last_error = old->last_error;
  snap->last_error_unix = old->last_error_unix;
  snap->has_run = true;
  snap->up = outcome.result.up;
  snap->reason = outcome.result.up ? reason::kOk : outcome.result.reason;
  snap->message = outcome.result.message;
  snap->duration_seconds = outcome.duration_seconds;
  snap->last_check_unix = outcome.finished_unix;
  if (outcome.result.up) {
    snap->last_success_unix = outcome.finished_unix;
  } else {
    ++snap->errors_by_reason[snap->reason];
    snap->last_error = snap->message.empty() ? snap->reason : snap->message;
    snap->last_error_unix = outcome.finished_unix;
  }
  snap->families = std::move(outcome.result.families);
  AddCollectorLabel(snap->families, name);
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& s : snapshots_) {
    // Compare pointers: if a reload replaced the entry meanwhile, drop this result.
    if (s == old) {
      Transition t = !old->has_run          ? Transition::kFirst
                     : old->up && !snap->up ? Transition::kWentDown
                     : !old->up && snap->up ? Transition::kRecovered
                                            : Transition::kNone;
      s = std::move(snap);
      return t;
    }
  }
  return Transition::kNone;
}

std::vector<std::shared_ptr<const CollectorSnapshot>> SnapshotCache::All() const {
  std::lock_guard<std::mutex> lock(mu_);
  return snapshots_;
}

bool SnapshotCache::AllRan() const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& s : snapshots_) {
    if (!s->has_run) return false;
  }
  return true;
}

}  // namespace botwatch
