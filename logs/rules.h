#pragma once

// Declarative rules: which events update which metric, and how. A RuleSet is
// compiled once at config load (regexes compiled, names validated, field paths
// interned to slots); RuleEngine applies it to events with pre-resolved metric
// ids and, for constant labels, pre-resolved series.

#include <nlohmann/json.hpp>

#include <deque>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/config_node.h"
#include "logs/event.h"
#include "logs/metric_store.h"
#include "logs/session_tracker.h"

namespace botwatch::logs {

struct Condition {
  enum class Op { kAll, kAny, kEquals, kNotEquals, kOneOf, kRegex, kExists, kGt, kGe, kLt, kLe };
  Op op = Op::kAll;
  int field = -1;
  std::string value;
  std::vector<std::string> values;
  std::shared_ptr<const std::regex> re;
  double number = 0;
  bool exists = true;
  std::vector<Condition> children;
  // Identical conditions (any depth, any rule) share an id, so each is
  // evaluated at most once per event: presets repeat `message equals ...`.
  int id = -1;

  // `memo` has one entry per condition id: -1 unknown, 0 false, 1 true.
  bool Matches(const Event& event, std::vector<signed char>& memo) const;
  std::string Signature() const;
};

struct Rule {
  enum class Action { kInc, kAdd, kSet, kSetTimestamp, kDec, kObserve, kDistinct, kDuration, kSession };
  std::string metric;
  Action action = Action::kInc;
  std::optional<Condition> match;
  int value_field = -1;
  double scale = 1;
  // In the metric's label order; field < 0 means the constant.
  struct Label {
    int field = -1;
    std::string constant;
  };
  std::vector<Label> labels;
  // type: duration. The histogram is `metric`; the key is an identifier and
  // never a label, so the pending set is bounded by max_pending, not by labels.
  struct Pairing {
    Condition start, end;
    int key_field = -1;
    double timeout = 3600;
    size_t max_pending = 100000;
    // Names what the pending keys mean (metric, start, end, key field) in
    // field paths, not slots: saved keys are restored only into a rule with
    // the same signature, across restarts and reloads. timeout and max_pending
    // are left out, so changing them keeps the keys (the new values apply).
    std::string signature;
  };
  std::optional<Pairing> pairing;
  // type: session. `metric` is the prefix of <metric>_duration_seconds and
  // <metric>_messages (histograms by outcome), <metric>_active and
  // <metric>_evicted_total. The key is an identifier and never a label.
  struct Conversations {
    std::optional<Condition> match;  // the events that are messages; absent: every event with the key
    int key_field = -1;
    SessionTracker::Limits limits;
    // Named matchers, in config order; the conversation's last event that
    // matches one decides (booked, then chatting on, is still booked).
    struct Outcome {
      std::string name;
      Condition match;
    };
    std::vector<Outcome> outcomes;
    int outcome_field = -1;  // or: the value of this field on the last event that has it
    size_t max_outcomes = 20;
    std::string default_outcome = "none";
    // As Pairing::signature: what the open conversations mean, so a restart
    // or reload restores them only into the same rule (gap and max_active may change).
    std::string signature;
  };
  std::optional<Conversations> session;
};

// Marks matching events as live-feed events (/api/v1/feed). Only the listed
// fields are shown: identifiers (RuleSet::identifiers) as a short salted hash,
// text_fields only when feed.allow_text is on.
struct FeedRule {
  std::string type;  // e.g. "message", "error"
  std::optional<Condition> match;
  struct Field {
    std::string name;
    int slot = -1;
    enum class Kind { kPlain, kIdentifier, kText } kind = Kind::kPlain;
  };
  std::vector<Field> fields;
};

struct RuleSet {
  FieldTable fields;
  std::vector<FeedRule> feed;
  int level_field = -1;  // interned when there are feed rules
  std::vector<MetricDef> metrics;
  std::vector<Rule> rules;
  std::set<std::string> identifiers;
  int timestamp_field = -1;  // set when some rule needs the event's time
  std::vector<std::string> condition_ids;  // signature per Condition::id
};

// Reads `identifiers`, `rules` and the optional `feed` from `m` into `out` (throws ConfigError with
// file:line:column). `timestamp_field` is the path holding the event time.
void ReadRules(ConfigMap& m, const std::string& timestamp_field, RuleSet& out);

// Merges rule-set metric definitions into `all`; the same name used twice must
// mean the same metric. Throws ConfigError naming `where`.
void MergeMetricDefs(const std::vector<MetricDef>& defs, const std::string& where, std::vector<MetricDef>& all);

bool ValidMetricName(const std::string& name);
bool ValidLabelName(const std::string& name);

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
  double event_clock_ = 0;  // latest event time seen by a duration rule's source
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

}  // namespace botwatch::logs
