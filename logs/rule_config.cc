#include "logs/rule_config.h"

#include <algorithm>
#include <chrono>
#include <map>

#include "prom/names.h"

namespace botwatch {

std::string Condition::Signature() const {
  std::string s = std::to_string(static_cast<int>(op)) + ":" + std::to_string(field) + ":" + std::to_string(exists) +
                  ":" + std::to_string(number) + ":" + std::to_string(value.size()) + ":" + value + ":" +
                  (re ? std::to_string(reinterpret_cast<uintptr_t>(re.get())) : "") + "[";
  for (const auto& v : values) s += std::to_string(v.size()) + ":" + v + ",";
  s += "](";
  for (const auto& c : children) s += c.Signature() + ";";
  return s + ")";
}

namespace {

// Gives identical subtrees the same id (children first).
void AssignIds(Condition& c, std::vector<std::string>& ids) {
  for (Condition& child : c.children) AssignIds(child, ids);
  std::string sig = c.Signature();
  auto it = std::find(ids.begin(), ids.end(), sig);
  if (it == ids.end()) {
    ids.push_back(sig);
    c.id = static_cast<int>(ids.size() - 1);
  } else {
    c.id = static_cast<int>(it - ids.begin());
  }
}

}  // namespace

namespace {

// A condition in field paths rather than slots: the same text in any config.
std::string StableText(const Condition& c, const FieldTable& fields) {
  std::string s = std::to_string(static_cast<int>(c.op)) + "(";
  if (c.field >= 0) s += fields.paths()[static_cast<size_t>(c.field)];
  s += "|" + std::to_string(c.exists) + "|" + std::to_string(c.number) + "|" + std::to_string(c.value.size()) + ":" +
       c.value + "|";
  for (const auto& v : c.values) s += std::to_string(v.size()) + ":" + v + ",";
  for (const auto& child : c.children) s += StableText(child, fields) + ";";
  return s + ")";
}

// Every line is tested against each matcher of each rule, so their number is
// the per-line cost a config may ask for: bounded per `match`, well above what
// a hand-written rule uses, far below what aliases could multiply it to.
constexpr size_t kMaxMatchersPerRule = 256;

Condition ReadConditionCounted(ConfigMap& m, RuleSet& rs, size_t* matchers) {
  if (++*matchers > kMaxMatchersPerRule) {
    m.Fail("more than " + std::to_string(kMaxMatchersPerRule) +
           " matchers in one rule's match (all/any included); split the rule");
  }
  Condition c;
  if (m.Has("all") || m.Has("any")) {
    std::string key = m.OneOf({"all", "any"});
    c.op = key == "all" ? Condition::Op::kAll : Condition::Op::kAny;
    for (ConfigMap& child : m.MapList(key)) c.children.push_back(ReadConditionCounted(child, rs, matchers));
    if (c.children.empty()) m.FailAt(key, "needs at least one condition");
    m.RejectUnknownKeys();
    return c;
  }
  std::string field = m.RequiredString("field");
  c.field = rs.fields.Intern(field);
  std::string op = m.OneOf({"equals", "not_equals", "one_of", "regex", "exists", "gt", "gte", "lt", "lte"});
  if (op == "equals" || op == "not_equals") {
    c.op = op == "equals" ? Condition::Op::kEquals : Condition::Op::kNotEquals;
    c.value = m.RequiredString(op);
  } else if (op == "one_of") {
    c.op = Condition::Op::kOneOf;
    c.values = m.StringList(op);
    if (c.values.empty()) m.FailAt(op, "needs at least one value");
  } else if (op == "regex") {
    c.op = Condition::Op::kRegex;
    std::string pattern = m.RequiredString(op);
    c.value = pattern;  // for StableText; matching uses re
    try {
      c.re = std::make_shared<const std::regex>(pattern, std::regex::ECMAScript | std::regex::optimize);
    } catch (const std::regex_error& e) {
      m.FailAt(op, "invalid regular expression \"" + pattern + "\": " + e.what());
    }
  } else if (op == "exists") {
    c.op = Condition::Op::kExists;
    c.exists = m.Bool(op, true);
  } else {
    c.op = op == "gt"    ? Condition::Op::kGt
           : op == "gte" ? Condition::Op::kGe
           : op == "lt"  ? Condition::Op::kLt
                         : Condition::Op::kLe;
    c.number = m.Double(op, 0);
  }
  m.RejectUnknownKeys();
  return c;
}

Condition ReadCondition(ConfigMap& m, RuleSet& rs) {
  size_t matchers = 0;
  return ReadConditionCounted(m, rs, &matchers);
}

MetricType ReadType(ConfigMap& m) {
  std::string t = m.RequiredString("type");
  for (const auto& [type, name] : kMetricTypeNames) {
    if (t == name) return type;
  }
  std::string msg = "unknown metric type \"" + t + "\"";
  if (auto close = ClosestMatch(t, {"counter", "gauge", "histogram", "distinct", "duration", "session"})) {
    msg += " (did you mean \"" + *close + "\"?)";
  }
  m.FailAt("type", msg + "; use counter, gauge, histogram, distinct, duration or session");
}

// Why a rule's name would break the exposition, or "" when it is fine. The
// checks are promtool's (`check metrics`) and botwatch's own: a rule named
// botwatch_collector_up would land inside botwatch's own family as a sample
// without the labels every other sample of it has.
std::string NamingProblem(const std::string& name, MetricType type) {
  for (const char* reserved : {"botwatch_", "process_"}) {
    if (name.rfind(reserved, 0) == 0) {
      return "metric name \"" + name + "\" is under \"" + reserved +
             "\", which botwatch reserves for its own metrics (use your bot's prefix, e.g. \"bot_" +
             name.substr(std::string(reserved).size()) + "\")";
    }
  }
  const bool ends_total = name.size() > 6 && name.compare(name.size() - 6, 6, "_total") == 0;
  if (type == MetricType::kCounter && !ends_total) {
    return "counter \"" + name + "\" must end in _total (did you mean \"" + name + "_total\"?)";
  }
  if (type != MetricType::kCounter && ends_total) {
    return "only counters end in _total, \"" + name + "\" is not one (did you mean \"" +
           name.substr(0, name.size() - 6) + "\"?)";
  }
  return "";
}

const std::vector<double> kDefaultBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

std::vector<double> ReadBuckets(ConfigMap& m, const char* key, std::vector<double> def) {
  std::vector<double> b = m.DoubleList(key);
  if (b.empty()) return def;
  for (size_t i = 1; i < b.size(); ++i) {
    if (!(b[i] > b[i - 1])) m.FailAt(key, "bucket bounds must increase");
  }
  return b;
}

// A label-less metric of one series: a rule's companion count or gauge.
MetricDef OneSeriesDef(std::string name, std::string help, MetricType type) {
  return MetricDef{std::move(name), std::move(help), type, {}, {}, {}, 1};
}

// type: duration: one histogram observation per start/end pair
// sharing `key_field`, plus counters for the unpaired and a pending gauge.
Rule ReadDurationRule(ConfigMap& m, const std::string& timestamp_field, RuleSet& rs) {
  Rule r;
  r.action = Rule::Action::kDuration;
  r.metric = m.RequiredString("metric");
  m.RequiredString("type");
  if (!IsValidMetricName(r.metric)) m.FailAt("metric", "invalid metric name \"" + r.metric + "\"");
  if (std::string why = NamingProblem(r.metric, MetricType::kHistogram); !why.empty()) m.FailAt("metric", why);
  Rule::Pairing pr;
  for (const char* key : {"start", "end"}) {
    auto c = m.OptionalMap(key);
    if (!c) m.FailAt(key, "missing required field (e.g. {field: message, equals: message sent})");
    Condition cond = ReadCondition(*c, rs);
    AssignIds(cond, rs.condition_ids);
    (std::string(key) == "start" ? pr.start : pr.end) = std::move(cond);
  }
  std::string key_field = m.RequiredString("key_field");
  pr.key_field = rs.fields.Intern(key_field);
  Result<Duration> timeout = ParseDuration(m.String("timeout", "1h"));
  if (!timeout.ok()) m.FailAt("timeout", timeout.status().message());
  pr.timeout = ToSeconds(timeout.value());
  if (!(pr.timeout > 0)) m.FailAt("timeout", "must be positive");
  pr.max_pending = static_cast<size_t>(m.Int("max_pending", 100000, 1, 10000000));
  MetricDef hist;
  hist.name = r.metric;
  hist.type = MetricType::kHistogram;
  hist.help = m.String("help", "");
  hist.max_series = 1;
  hist.buckets = ReadBuckets(m, "buckets", {1, 5, 30, 60, 300, 900});
  MetricDef unmatched =
      OneSeriesDef(r.metric + "_unmatched_total", "Ends of " + r.metric + " without an open start, or a second end.",
                   MetricType::kCounter);
  MetricDef expired = OneSeriesDef(
      r.metric + "_expired_total",
      "Starts of " + r.metric + " not ended within the timeout or dropped past max_pending.", MetricType::kCounter);
  MetricDef pending =
      OneSeriesDef(r.metric + "_pending", "Starts of " + r.metric + " waiting for their end.", MetricType::kGauge);
  pr.signature = "duration|" + r.metric + "|" + StableText(pr.start, rs.fields) + "|" + StableText(pr.end, rs.fields) +
                 "|" + key_field;
  r.pairing = std::move(pr);
  rs.timestamp_field = rs.fields.Intern(timestamp_field);
  m.RejectUnknownKeys();
  MergeMetricDefs({hist, unmatched, expired, pending}, m.Location("metric") + ": " + m.FieldPath("metric"), rs.metrics);
  return r;
}

// A session rule's outcomes, named matchers or one field's values, into `c`;
// returns their stable text for the rule's signature.
std::string ReadOutcomes(ConfigMap& m, RuleSet& rs, Rule::Conversations& c) {
  std::string outcome_text;
  std::set<std::string> names;
  for (ConfigMap& o : m.MapList("outcomes")) {
    ReadIndependently([&] {
      std::string name = o.RequiredString("name");
      if (name.empty() || name.size() > 64) o.FailAt("name", "an outcome name has 1 to 64 characters");
      if (!names.insert(name).second) o.FailAt("name", "outcome \"" + name + "\" is listed twice");
      auto match = o.OptionalMap("match");
      if (!match) o.FailAt("match", "missing required field (e.g. {field: message, equals: booking confirmed})");
      Condition cond = ReadCondition(*match, rs);
      AssignIds(cond, rs.condition_ids);
      outcome_text += name + "=" + StableText(cond, rs.fields) + ";";
      o.RejectUnknownKeys();
      c.outcomes.push_back(Rule::Conversations::Outcome{name, std::move(cond)});
    });
  }
  if (auto field = m.OptionalString("outcome_field")) {
    if (!c.outcomes.empty())
      m.FailAt("outcome_field", "use either outcomes (named matchers) or outcome_field, not both");
    if (rs.identifiers.count(*field)) {
      m.FailAt("outcome_field", "field \"" + *field + "\" is declared an identifier and may never be a label");
    }
    c.outcome_field = rs.fields.Intern(*field);
    outcome_text = "field=" + *field;
  }
  return outcome_text;
}

// The four families a session rule named `metric` exports.
std::vector<MetricDef> SessionMetricDefs(ConfigMap& m, const std::string& metric, const Rule::Conversations& c) {
  std::vector<std::string> outcome_label = {"outcome"};
  const size_t series = c.outcome_field >= 0 ? c.max_outcomes + 2 : c.outcomes.size() + 1;
  MetricDef duration{metric + "_duration_seconds",
                     m.String("help", ""),
                     MetricType::kHistogram,
                     outcome_label,
                     ReadBuckets(m, "duration_buckets", {30, 60, 120, 300, 600, 1800, 3600, 7200}),
                     {},
                     series};
  if (duration.help.empty()) duration.help = "Length of a " + metric + " conversation, first event to last.";
  MetricDef messages{metric + "_messages",
                     "Messages in a " + metric + " conversation.",
                     MetricType::kHistogram,
                     outcome_label,
                     ReadBuckets(m, "message_buckets", {1, 2, 3, 5, 8, 13, 21, 34, 55, 89}),
                     {},
                     series};
  MetricDef active = OneSeriesDef(metric + "_active", "Open " + metric + " conversations (an event within the gap).",
                                  MetricType::kGauge);
  MetricDef evicted =
      OneSeriesDef(metric + "_evicted_total",
                   "Conversations of " + metric + " dropped unfinished past max_active (not in the histograms).",
                   MetricType::kCounter);
  return {duration, messages, active, evicted};
}

// type: session: per key, a conversation is a run of events with
// gaps shorter than `gap`; when one ends, its length and message count are
// observed under its outcome.
Rule ReadSessionRule(ConfigMap& m, const std::string& timestamp_field, RuleSet& rs) {
  Rule r;
  r.action = Rule::Action::kSession;
  r.metric = m.RequiredString("metric");
  m.RequiredString("type");
  ReadIndependently([&] {
    if (!IsValidMetricName(r.metric)) m.FailAt("metric", "invalid metric name \"" + r.metric + "\"");
    if (std::string why = NamingProblem(r.metric, MetricType::kHistogram); !why.empty()) m.FailAt("metric", why);
  });
  Rule::Conversations c;
  std::string match_text = "*";
  if (auto match = m.OptionalMap("match")) {
    ReadIndependently([&] {
      c.match = ReadCondition(*match, rs);
      AssignIds(*c.match, rs.condition_ids);
      match_text = StableText(*c.match, rs.fields);
    });
  }
  std::string key_field = m.RequiredString("key_field");
  c.key_field = rs.fields.Intern(key_field);
  c.limits.gap = ToSeconds(m.DurationValue("gap", std::chrono::minutes(30)));
  c.limits.max_active = static_cast<size_t>(m.Int("max_active", 100000, 1, 10000000));
  std::string outcome_text = ReadOutcomes(m, rs, c);
  c.max_outcomes = static_cast<size_t>(m.Int("max_outcomes", 20, 1, 1000));
  c.default_outcome = m.String("default_outcome", "none");
  if (c.default_outcome.empty()) m.FailAt("default_outcome", "must not be empty");
  std::vector<MetricDef> defs = SessionMetricDefs(m, r.metric, c);
  c.signature = "session|" + r.metric + "|" + match_text + "|" + key_field + "|" + outcome_text;
  r.session = std::move(c);
  rs.timestamp_field = rs.fields.Intern(timestamp_field);
  m.RejectUnknownKeys();
  MergeMetricDefs(defs, m.Location("metric") + ": " + m.FieldPath("metric"), rs.metrics);
  return r;
}

// A plain rule's labels, constants and fields, exported in name order.
void ReadLabels(ConfigMap& m, RuleSet& rs, MetricDef& def, Rule& r) {
  std::map<std::string, Rule::Label> labels;
  for (const auto& [name, value] : m.StringMap("labels")) labels[name] = Rule::Label{-1, value};
  for (const auto& [name, field] : m.StringMap("label_fields")) {
    if (labels.count(name)) m.FailAt("label_fields", "label \"" + name + "\" is also set in labels");
    if (rs.identifiers.count(field)) {
      m.FailAt("label_fields", "field \"" + field +
                                   "\" is declared an identifier and may never be a label "
                                   "(it would create one series per user)");
    }
    labels[name] = Rule::Label{rs.fields.Intern(field), ""};
  }
  for (auto& [name, label] : labels) {
    bool reserved = name == "le" && def.type == MetricType::kHistogram;
    reserved = reserved || (name == "window" && def.type == MetricType::kDistinct);
    if (!IsValidUserLabelName(name) || reserved)
      m.FailAt(label.field < 0 ? "labels" : "label_fields", "invalid label name \"" + name + "\"");
    def.label_names.push_back(name);
    r.labels.push_back(label);
  }
}

// What a plain rule does with a matching event, by its metric's type.
void ReadAction(ConfigMap& m, RuleSet& rs, MetricDef& def, Rule& r) {
  std::optional<std::string> value_field = m.OptionalString("value_field");
  if (value_field) r.value_field = rs.fields.Intern(*value_field);
  r.scale = m.Double("scale", 1);
  std::optional<std::string> action = m.OptionalString("action");
  auto need_value = [&](const char* what) {
    if (!value_field) m.FailAt("value_field", std::string("missing required field (") + what + ")");
  };
  auto no_action = [&] {
    if (action) m.FailAt("action", "only gauges take an action");
  };
  switch (def.type) {
    case MetricType::kCounter:
      no_action();
      r.action = value_field ? Rule::Action::kAdd : Rule::Action::kInc;
      break;
    case MetricType::kGauge: {
      std::string a = action.value_or(value_field ? "set" : "");
      if (a.empty()) m.FailAt("action", "a gauge needs an action: set (with value_field), set_timestamp, inc or dec");
      r.action = m.Choice<Rule::Action>("action", a, "action",
                                        {{"set", Rule::Action::kSet},
                                         {"set_timestamp", Rule::Action::kSetTimestamp},
                                         {"inc", Rule::Action::kInc},
                                         {"dec", Rule::Action::kDec}});
      if (r.action == Rule::Action::kSet) need_value("gauges set from a field");
      break;
    }
    case MetricType::kHistogram: {
      no_action();
      need_value("the value to observe");
      r.action = Rule::Action::kObserve;
      def.buckets = ReadBuckets(m, "buckets", kDefaultBuckets);
      break;
    }
    case MetricType::kDistinct: {
      no_action();
      need_value("the field whose distinct values are counted");
      r.action = Rule::Action::kDistinct;
      std::vector<std::string> windows = m.StringList("windows");
      if (windows.empty()) m.FailAt("windows", "missing required field (e.g. [30m, 24h, 7d])");
      for (const std::string& w : windows) {
        Result<Duration> d = ParseDuration(w);
        if (!d.ok()) m.FailAt("windows", d.status().message());
        def.windows.emplace_back(w, ToSeconds(d.value()));
      }
      break;
    }
  }
}

Rule ReadRule(ConfigMap& m, const std::string& timestamp_field, RuleSet& rs) {
  const std::optional<std::string> type = m.OptionalString("type");
  if (type == "duration") return ReadDurationRule(m, timestamp_field, rs);
  if (type == "session") return ReadSessionRule(m, timestamp_field, rs);
  Rule r;
  MetricDef def;
  def.name = m.RequiredString("metric");
  def.type = ReadType(m);
  // A bad name and a bad match are independent mistakes: check-config lists
  // both (and any after them) in one run.
  ReadIndependently([&] {
    if (!IsValidMetricName(def.name)) m.FailAt("metric", "invalid metric name \"" + def.name + "\"");
    if (std::string why = NamingProblem(def.name, def.type); !why.empty()) m.FailAt("metric", why);
  });
  r.metric = def.name;
  def.help = m.String("help", "");
  def.max_series = static_cast<size_t>(m.Int("max_series", 100, 1, 100000));
  if (auto match = m.OptionalMap("match")) {
    ReadIndependently([&] {
      r.match = ReadCondition(*match, rs);
      AssignIds(*r.match, rs.condition_ids);
    });
  }
  ReadLabels(m, rs, def, r);
  ReadAction(m, rs, def, r);
  if (r.action == Rule::Action::kSetTimestamp || r.action == Rule::Action::kDistinct) {
    rs.timestamp_field = rs.fields.Intern(timestamp_field);
  }
  m.RejectUnknownKeys();
  MergeMetricDefs({def}, m.Location("metric") + ": " + m.FieldPath("metric"), rs.metrics);
  return r;
}

}  // namespace

void MergeMetricDefs(const std::vector<MetricDef>& defs, const std::string& where, std::vector<MetricDef>& all) {
  for (const MetricDef& d : defs) {
    auto it = std::find_if(all.begin(), all.end(), [&](const MetricDef& x) { return x.name == d.name; });
    if (it == all.end()) {
      all.push_back(d);
      continue;
    }
    if (it->type != d.type || it->label_names != d.label_names || it->buckets != d.buckets ||
        it->windows != d.windows) {
      throw ConfigError(where + ": metric \"" + d.name +
                        "\" is already defined with a different type, labels, buckets or windows");
    }
    if (it->help.empty()) it->help = d.help;
    it->max_series = std::min(it->max_series, d.max_series);
  }
}

namespace {

FeedRule ReadFeedRule(ConfigMap& m, RuleSet& rs) {
  FeedRule f;
  f.type = m.RequiredString("type");
  if (!IsValidUserLabelName(f.type))
    m.FailAt("type", "\"" + f.type + "\" is not a valid feed type (letters, digits, _)");
  if (auto match = m.OptionalMap("match")) {
    f.match = ReadCondition(*match, rs);
    AssignIds(*f.match, rs.condition_ids);
  }
  std::set<std::string> seen;
  auto add = [&](const std::string& name, FeedRule::Field::Kind kind, const char* key) {
    if (!seen.insert(name).second) m.FailAt(key, "field \"" + name + "\" is listed twice");
    if (rs.identifiers.count(name)) kind = FeedRule::Field::Kind::kIdentifier;
    f.fields.push_back(FeedRule::Field{name, rs.fields.Intern(name), kind});
  };
  for (const std::string& name : m.StringList("fields")) add(name, FeedRule::Field::Kind::kPlain, "fields");
  for (const std::string& name : m.StringList("text_fields")) add(name, FeedRule::Field::Kind::kText, "text_fields");
  m.RejectUnknownKeys();
  return f;
}

}  // namespace

void ReadRules(ConfigMap& m, const std::string& timestamp_field, RuleSet& out) {
  for (const std::string& id : m.StringList("identifiers")) out.identifiers.insert(id);
  std::vector<ConfigMap> rules = m.MapList("rules");
  if (rules.empty()) m.FailAt("rules", "needs at least one rule");
  for (ConfigMap& r : rules) {
    ReadIndependently([&] { out.rules.push_back(ReadRule(r, timestamp_field, out)); });
  }
  for (ConfigMap& f : m.MapList("feed")) out.feed.push_back(ReadFeedRule(f, out));
  if (!out.feed.empty()) {
    out.level_field = out.fields.Intern("level");
    out.timestamp_field = out.fields.Intern(timestamp_field);
  }
}

}  // namespace botwatch
