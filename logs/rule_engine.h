#pragma once

// RuleEngine applies a RuleSet (logs/rule_config.h) to events, with
// pre-resolved metric ids and, for constant labels, pre-resolved series; it
// keeps the open starts of duration rules and the open conversations of
// session rules, which the state file saves.

#include <nlohmann/json.hpp>

#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "logs/event.h"
#include "logs/metric_store.h"
#include "logs/rule_config.h"
#include "logs/session_tracker.h"

namespace botwatch {

class RuleEngine {
 public:
  RuleEngine(std::shared_ptr<const RuleSet> rules, MetricStore& store);
  // Applies every matching rule through `update`. Returns whether any matched.
  // One engine is not safe for concurrent use (it reuses its buffers).
  bool Apply(MetricStore::Update& update, const Event& event, double event_time);

  // Expiry of duration rules runs on an event clock: the latest event time
  // seen, advanced by the wall-clock time since the last line while the source
  // is quiet, so a start expires `timeout` after the log went silent too. The
  // polling thread calls this every poll with the wall clock.
  void Tick(MetricStore::Update& update, double wall_now);
  // The open starts of every duration rule and the event clock, for the state
  // file and reload handover; Restore keeps only rules with the same signature.
  nlohmann::json SavePending() const;
  void RestorePending(MetricStore::Update& update, const nlohmann::json& saved, double wall_now);
  bool has_pending_rules() const { return !pending_.empty() || !sessions_.empty(); }

 private:
  struct Resolved {
    int metric = -1;
    size_t fixed_series = SIZE_MAX;  // all labels constant: resolved once
  };
  void ApplyRule(MetricStore::Update& update, size_t i, const Event& event, double event_time);

  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  std::shared_ptr<const RuleSet> rules_;
  std::vector<Resolved> resolved_;
  // Rules that require `dispatch_field_ equals V` are only tried on events
  // whose field is V (presets key most rules on `message`); the rest always are.
  int dispatch_field_ = -1;
  std::unordered_map<std::string, std::vector<size_t>, StringHash, std::equal_to<>> by_value_;
  std::vector<size_t> always_;
  std::vector<std::string_view> values_;  // reused label buffer
  std::vector<signed char> memo_;         // per-event condition results

  // Open starts of one duration rule. `order` is by start time with lazy
  // deletion: an entry is live only while `open` still holds its sequence.
  struct Pending {
    int unmatched = -1, expired = -1, pending = -1;
    size_t unmatched_series = 0, expired_series = 0, pending_series = 0;  // resolved once
    struct Open {
      double start;
      uint64_t seq;
    };
    std::unordered_map<std::string, Open, StringHash, std::equal_to<>> open;
    std::deque<std::pair<uint64_t, std::string>> order;
    uint64_t next_seq = 0;
  };
  std::unordered_map<size_t, Pending> pending_;  // by rule index
  double event_clock_ = 0;                       // latest event time seen by a duration rule's source
  double wall_anchor_ = 0;  // wall time of the line that last moved event_clock_ (or of the restore)
  void ApplyDuration(MetricStore::Update& update, size_t i, const Event& event, double event_time);
  // Drops open starts older than the timeout, then the oldest past max_pending.
  void Expire(MetricStore::Update& update, const Rule& r, Pending& p, double now);
  void Compact(Pending& p);

  // Open conversations of one session rule, and its outcome label values:
  // the named outcomes then the default, or values of outcome_field as they
  // are first seen, at most max_outcomes, then __overflow__.
  struct Sessions {
    explicit Sessions(SessionTracker::Limits limits) : tracker(limits) {}
    int duration = -1, messages = -1, active = -1, evicted = -1;
    size_t active_series = 0, evicted_series = 0;  // resolved once: set on every event
    SessionTracker tracker;
    std::vector<std::string> outcome_names;
    std::unordered_map<std::string, int, StringHash, std::equal_to<>> outcome_index;
    std::vector<SessionTracker::Ended> ended;  // reused buffer
  };
  std::unordered_map<size_t, Sessions> sessions_;  // by rule index
  // Returns whether the event was part of a conversation.
  bool ApplySession(MetricStore::Update& update, size_t i, const Event& event, double event_time);
  int SessionOutcome(const Rule::Conversations& c, Sessions& s, const Event& event);
  int OutcomeIndex(const Rule::Conversations& c, Sessions& s, std::string_view name);
  // Exports what `s.ended` holds and clears it, and sets the active gauge.
  void FlushSessions(MetricStore::Update& update, const Rule::Conversations& c, Sessions& s);
};

}  // namespace botwatch
