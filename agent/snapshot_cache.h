#pragma once

// The latest probe result of every collector, read by /metrics and the status
// API. Writers publish a whole new snapshot; readers copy shared pointers under
// a short lock, so a scrape never waits for a probe.

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "collectors/snapshot.h"

namespace botwatch {

class SnapshotCache {
 public:
  // Sets the collectors to track, in config order. State of a collector whose
  // name and type are unchanged is kept, so a reload leaves no gap in counters.
  void Reset(const std::vector<CollectorSpec>& specs);
  enum class Transition { kNone, kFirst, kWentDown, kRecovered };
  // Stores the outcome; says whether the collector changed state, so that the
  // log carries one line per change instead of one per failed probe.
  Transition Publish(const std::string& name, ProbeOutcome outcome);

  std::vector<std::shared_ptr<const CollectorSnapshot>> All() const;
  // True once every collector has a result (ready).
  bool AllRan() const;

 private:
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<const CollectorSnapshot>> snapshots_;
};

}  // namespace botwatch
