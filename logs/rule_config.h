#pragma once

// Declarative rules: which events update which metric, and how. A RuleSet is
// read and compiled once at config load (regexes compiled, names validated,
// field paths interned to slots); logs/rule_engine.h applies it to events.

#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/config_node.h"
#include "logs/event.h"
#include "logs/metric_store.h"
#include "logs/session_tracker.h"

namespace botwatch {

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
  int timestamp_field = -1;                // set when some rule needs the event's time
  std::vector<std::string> condition_ids;  // signature per Condition::id
};

// Reads `identifiers`, `rules` and the optional `feed` from `m` into `out` (throws ConfigError with
// file:line:column). `timestamp_field` is the path holding the event time.
void ReadRules(ConfigMap& m, const std::string& timestamp_field, RuleSet& out);

// Merges rule-set metric definitions into `all`; the same name used twice must
// mean the same metric. Throws ConfigError naming `where`.
void MergeMetricDefs(const std::vector<MetricDef>& defs, const std::string& where, std::vector<MetricDef>& all);

}  // namespace botwatch
