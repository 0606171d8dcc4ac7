#include "logs/rules.h"

#include <algorithm>
#include <chrono>
#include <map>

#include <simdjson.h>

#include "base/unix_time.h"
#include "logs/hyperloglog.h"

namespace botwatch::logs {

bool ValidMetricName(const std::string& name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':' ||
              (i > 0 && std::isdigit(static_cast<unsigned char>(c)));
    if (!ok) return false;
  }
  return true;
}

bool ValidLabelName(const std::string& name) {
  if (name.empty() || name.rfind("__", 0) == 0) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = std::isalpha(static_cast<unsigned char>(c)) || c == '_' ||
              (i > 0 && std::isdigit(static_cast<unsigned char>(c)));
    if (!ok) return false;
  }
  return true;
}

std::string Condition::Signature() const {
  std::string s = std::to_string(static_cast<int>(op)) + ":" + std::to_string(field) + ":" +
                  std::to_string(exists) + ":" + std::to_string(number) + ":" + std::to_string(value.size()) + ":" +
                  value + ":" + (re ? std::to_string(reinterpret_cast<uintptr_t>(re.get())) : "") + "[";
  for (const auto& v : values) s += std::to_string(v.size()) + ":" + v + ",";
  s += "](";
  for (const auto& c : children) s += c.Signature() + ";";
  return s + ")";
}

bool Condition::Matches(const Event& event, std::vector<signed char>& memo) const {
  signed char& known = memo[static_cast<size_t>(id)];
  if (known >= 0) return known;
  bool result = true;
  switch (op) {
    case Op::kAll:
      for (const Condition& c : children) {
        if (!c.Matches(event, memo)) {
          result = false;
          break;
        }
      }
      break;
    case Op::kAny:
      result = false;
      for (const Condition& c : children) {
        if (c.Matches(event, memo)) {
          result = true;
          break;
        }
      }
      break;
    default: {
      const FieldValue& v = event.at(field);
      bool scalar = v.kind == FieldValue::Kind::kString || v.kind == FieldValue::Kind::kNumber ||
                    v.kind == FieldValue::Kind::kBool;
      switch (op) {
        case Op::kEquals: result = scalar && v.text == value; break;
        case Op::kNotEquals: result = !scalar || v.text != value; break;
        case Op::kOneOf:
          result = scalar && std::find(values.begin(), values.end(), v.text) != values.end();
          break;
        case Op::kRegex: result = scalar && std::regex_search(v.text.begin(), v.text.end(), *re); break;
        case Op::kExists: result = (v.present() && v.kind != FieldValue::Kind::kNull) == exists; break;
        default: {
          std::optional<double> n = v.AsNumber();
          if (!n) {
            result = false;
          } else if (op == Op::kGt) {
            result = *n > number;
          } else if (op == Op::kGe) {
            result = *n >= number;
          } else if (op == Op::kLt) {
            result = *n < number;
          } else {
            result = *n <= number;
          }
        }
      }
    }
  }
  known = result ? 1 : 0;
  return result;
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

Condition ReadCondition(ConfigMap& m, RuleSet& rs) {
  Condition c;
  if (m.Has("all") || m.Has("any")) {
    std::string key = m.OneOf({"all", "any"});
    c.op = key == "all" ? Condition::Op::kAll : Condition::Op::kAny;
    for (ConfigMap& child : m.MapList(key)) c.children.push_back(ReadCondition(child, rs));
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
    c.op = op == "gt" ? Condition::Op::kGt : op == "gte" ? Condition::Op::kGe : op == "lt" ? Condition::Op::kLt : Condition::Op::kLe;
    c.number = m.Double(op, 0);
  }
  m.RejectUnknownKeys();
  return c;
}

MetricType ReadType(ConfigMap& m) {
  std::string t = m.RequiredString("type");
  if (t == "counter") return MetricType::kCounter;
  if (t == "gauge") return MetricType::kGauge;
  if (t == "histogram") return MetricType::kHistogram;
  if (t == "distinct") return MetricType::kDistinct;
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

// type: duration: one histogram observation per start/end pair
// sharing `key_field`, plus counters for the unpaired and a pending gauge.
Rule ReadDurationRule(ConfigMap& m, const std::string& timestamp_field, RuleSet& rs) {
  Rule r;
  r.action = Rule::Action::kDuration;
  r.metric = m.RequiredString("metric");
  m.RequiredString("type");
  if (!ValidMetricName(r.metric)) m.FailAt("metric", "invalid metric name \"" + r.metric + "\"");
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
  MetricDef unmatched{r.metric + "_unmatched_total", "Ends of " + r.metric + " without an open start, or a second end.",
                      MetricType::kCounter, {}, {}, {}, 1};
  MetricDef expired{r.metric + "_expired_total", "Starts of " + r.metric + " not ended within the timeout or dropped past max_pending.",
                    MetricType::kCounter, {}, {}, {}, 1};
  MetricDef pending{r.metric + "_pending", "Starts of " + r.metric + " waiting for their end.", MetricType::kGauge,
                    {}, {}, {}, 1};
  pr.signature = "duration|" + r.metric + "|" + StableText(pr.start, rs.fields) + "|" +
                 StableText(pr.end, rs.fields) + "|" + key_field;
  r.pairing = std::move(pr);
  rs.timestamp_field = rs.fields.Intern(timestamp_field);
  m.RejectUnknownKeys();
  MergeMetricDefs({hist, unmatched, expired, pending}, m.Location("metric") + ": " + m.FieldPath("metric"), rs.metrics);
  return r;
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
    if (!ValidMetricName(r.metric)) m.FailAt("metric", "invalid metric name \"" + r.metric + "\"");
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
    if (!c.outcomes.empty()) m.FailAt("outcome_field", "use either outcomes (named matchers) or outcome_field, not both");
    if (rs.identifiers.count(*field)) {
      m.FailAt("outcome_field", "field \"" + *field + "\" is declared an identifier and may never be a label");
    }
    c.outcome_field = rs.fields.Intern(*field);
    outcome_text = "field=" + *field;
  }
  c.max_outcomes = static_cast<size_t>(m.Int("max_outcomes", 20, 1, 1000));
  c.default_outcome = m.String("default_outcome", "none");
  if (c.default_outcome.empty()) m.FailAt("default_outcome", "must not be empty");
  std::vector<std::string> outcome_label = {"outcome"};
  const size_t series = c.outcome_field >= 0 ? c.max_outcomes + 2 : c.outcomes.size() + 1;
  MetricDef duration{r.metric + "_duration_seconds", m.String("help", "") , MetricType::kHistogram, outcome_label,
                     ReadBuckets(m, "duration_buckets", {30, 60, 120, 300, 600, 1800, 3600, 7200}), {}, series};
  if (duration.help.empty()) duration.help = "Length of a " + r.metric + " conversation, first event to last.";
  MetricDef messages{r.metric + "_messages", "Messages in a " + r.metric + " conversation.", MetricType::kHistogram,
                     outcome_label, ReadBuckets(m, "message_buckets", {1, 2, 3, 5, 8, 13, 21, 34, 55, 89}), {}, series};
  MetricDef active{r.metric + "_active", "Open " + r.metric + " conversations (an event within the gap).",
                   MetricType::kGauge, {}, {}, {}, 1};
  MetricDef evicted{r.metric + "_evicted_total", "Conversations of " + r.metric +
                    " dropped unfinished past max_active (not in the histograms).", MetricType::kCounter, {}, {}, {}, 1};
  c.signature = "session|" + r.metric + "|" + match_text + "|" + key_field + "|" + outcome_text;
  r.session = std::move(c);
  rs.timestamp_field = rs.fields.Intern(timestamp_field);
  m.RejectUnknownKeys();
  MergeMetricDefs({duration, messages, active, evicted}, m.Location("metric") + ": " + m.FieldPath("metric"),
                  rs.metrics);
  return r;
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
    if (!ValidMetricName(def.name)) m.FailAt("metric", "invalid metric name \"" + def.name + "\"");
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

  // Labels: constants and fields, exported in name order.
  std::map<std::string, Rule::Label> labels;
  for (const auto& [name, value] : m.StringMap("labels")) labels[name] = Rule::Label{-1, value};
  for (const auto& [name, field] : m.StringMap("label_fields")) {
    if (labels.count(name)) m.FailAt("label_fields", "label \"" + name + "\" is also set in labels");
    if (rs.identifiers.count(field)) {
      m.FailAt("label_fields", "field \"" + field + "\" is declared an identifier and may never be a label "
                               "(it would create one series per user)");
    }
    labels[name] = Rule::Label{rs.fields.Intern(field), ""};
  }
  for (auto& [name, label] : labels) {
    bool reserved = name == "le" && def.type == MetricType::kHistogram;
    reserved = reserved || (name == "window" && def.type == MetricType::kDistinct);
    if (!ValidLabelName(name) || reserved) m.FailAt(label.field < 0 ? "labels" : "label_fields", "invalid label name \"" + name + "\"");
    def.label_names.push_back(name);
    r.labels.push_back(label);
  }

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
  if (!ValidLabelName(f.type)) m.FailAt("type", "\"" + f.type + "\" is not a valid feed type (letters, digits, _)");
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

RuleEngine::RuleEngine(std::shared_ptr<const RuleSet> rules, MetricStore& store)
    : rules_(std::move(rules)), wall_anchor_(UnixNow()) {
  MetricStore::Update update(store);
  for (size_t i = 0; i < rules_->rules.size(); ++i) {
    const Rule& r = rules_->rules[i];
    Resolved res;
    res.metric = store.FindMetric(r.metric);
    if (r.pairing) {
      Pending& p = pending_[i];
      p.unmatched = store.FindMetric(r.metric + "_unmatched_total");
      p.expired = store.FindMetric(r.metric + "_expired_total");
      p.pending = store.FindMetric(r.metric + "_pending");
      // Exported at 0 from the start, so rate() and absence alerts work at once.
      p.unmatched_series = update.Series(p.unmatched, {});
      p.expired_series = update.Series(p.expired, {});
      p.pending_series = update.Series(p.pending, {});
    }
    if (r.session) {
      Sessions& s = sessions_.try_emplace(i, r.session->limits).first->second;
      s.duration = store.FindMetric(r.metric + "_duration_seconds");
      s.messages = store.FindMetric(r.metric + "_messages");
      s.active = store.FindMetric(r.metric + "_active");
      s.evicted = store.FindMetric(r.metric + "_evicted_total");
      s.active_series = update.Series(s.active, {});
      s.evicted_series = update.Series(s.evicted, {});
      for (const auto& o : r.session->outcomes) OutcomeIndex(*r.session, s, o.name);
      OutcomeIndex(*r.session, s, r.session->default_outcome);
      // Exported at 0 from the start, so ratios of outcomes have every term.
      for (size_t k = 0; k < s.outcome_names.size(); ++k) {
        std::vector<std::string_view> label = {s.outcome_names[k]};
        update.Series(s.duration, label);
        update.Series(s.messages, label);
      }
    }
    // A session rule's name is a prefix, not a metric: its families are resolved above.
    bool fixed = !r.session &&
                 std::all_of(r.labels.begin(), r.labels.end(), [](const Rule::Label& l) { return l.field < 0; });
    if (fixed) {
      std::vector<std::string_view> values;
      for (const auto& l : r.labels) values.push_back(l.constant);
      res.fixed_series = update.Series(res.metric, values);
    }
    resolved_.push_back(res);
  }
  // The equals-condition every event matching the rule must satisfy, if any.
  auto key_of = [](const Rule& r) -> const Condition* {
    if (!r.match) return nullptr;
    if (r.match->op == Condition::Op::kEquals) return &*r.match;
    if (r.match->op == Condition::Op::kAll) {
      for (const Condition& c : r.match->children) {
        if (c.op == Condition::Op::kEquals) return &c;
      }
    }
    return nullptr;
  };
  std::map<int, int> uses;
  for (const Rule& r : rules_->rules) {
    if (const Condition* k = key_of(r)) ++uses[k->field];
  }
  int best = 0;
  for (const auto& [field, n] : uses) {
    if (n > best) {
      best = n;
      dispatch_field_ = field;
    }
  }
  for (size_t i = 0; i < rules_->rules.size(); ++i) {
    const Condition* k = key_of(rules_->rules[i]);
    if (k != nullptr && k->field == dispatch_field_) {
      by_value_[k->value].push_back(i);
    } else {
      always_.push_back(i);
    }
  }
}

bool RuleEngine::Apply(MetricStore::Update& update, const Event& event, double event_time) {
  bool any = false;
  memo_.assign(rules_->condition_ids.size(), -1);
  if (has_pending_rules() && event_time > 0) {
    event_clock_ = std::max(event_clock_, event_time);
    wall_anchor_ = UnixNow();
  }
  const std::vector<size_t>* keyed = nullptr;
  if (dispatch_field_ >= 0) {
    const FieldValue& v = event.at(dispatch_field_);
    if (v.kind == FieldValue::Kind::kString || v.kind == FieldValue::Kind::kNumber ||
        v.kind == FieldValue::Kind::kBool) {
      auto it = by_value_.find(v.text);
      if (it != by_value_.end()) keyed = &it->second;
    }
  }
  // Both lists are in rule order; merge them so rules apply in config order.
  size_t a = 0, k = 0;
  const size_t na = always_.size(), nk = keyed ? keyed->size() : 0;
  while (a < na || k < nk) {
    size_t i;
    if (k >= nk || (a < na && always_[a] < (*keyed)[k])) {
      i = always_[a++];
    } else {
      i = (*keyed)[k++];
    }
    const Rule& r = rules_->rules[i];
    if (r.pairing) {
      if (r.pairing->start.Matches(event, memo_) || r.pairing->end.Matches(event, memo_)) {
        any = true;
      }
      ApplyDuration(update, i, event, event_time);
      continue;
    }
    if (r.session) {
      any = ApplySession(update, i, event, event_time) || any;
      continue;
    }
    if (r.match && !r.match->Matches(event, memo_)) continue;
    any = true;
    ApplyRule(update, i, event, event_time);
  }
  return any;
}

void RuleEngine::ApplyRule(MetricStore::Update& update, size_t i, const Event& event, double event_time) {
  const Rule& r = rules_->rules[i];
  const FieldValue* value = r.value_field >= 0 ? &event.at(r.value_field) : nullptr;
  std::optional<double> number;
  if (value && r.action != Rule::Action::kDistinct) {
    number = value->AsNumber();
    if (!number) return;  // the rule matched but its value is missing or not a number
    if (r.action == Rule::Action::kAdd && *number < 0) return;  // counters never go down
  }
  if (r.action == Rule::Action::kDistinct &&
      !(value && (value->kind == FieldValue::Kind::kString || value->kind == FieldValue::Kind::kNumber))) {
    return;
  }
  const Resolved& res = resolved_[i];
  size_t series = res.fixed_series;
  if (series == SIZE_MAX) {
    values_.clear();
    for (const Rule::Label& l : r.labels) {
      if (l.field < 0) {
        values_.push_back(l.constant);
        continue;
      }
      const FieldValue& v = event.at(l.field);
      bool scalar = v.kind == FieldValue::Kind::kString || v.kind == FieldValue::Kind::kNumber ||
                    v.kind == FieldValue::Kind::kBool;
      std::string_view text = scalar ? v.text : std::string_view("unknown");
      // JSON input is already valid UTF-8; logfmt and regex input may not be,
      // and the exposition format requires it.
      if (!simdjson::validate_utf8(text.data(), text.size())) text = "__invalid_utf8__";
      values_.push_back(text);
    }
    series = update.Series(res.metric, values_);
  }
  switch (r.action) {
    case Rule::Action::kInc:
      update.Add(res.metric, series, 1);
      if (update.HasHistory(res.metric)) update.NoteHistory(res.metric, series, event_time, 1);
      break;
    case Rule::Action::kDec: update.Add(res.metric, series, -1); break;
    case Rule::Action::kAdd:
      update.Add(res.metric, series, *number * r.scale);
      if (update.HasHistory(res.metric)) update.NoteHistory(res.metric, series, event_time, *number * r.scale);
      break;
    case Rule::Action::kSet: update.Set(res.metric, series, *number * r.scale); break;
    case Rule::Action::kSetTimestamp: update.Set(res.metric, series, event_time); break;
    case Rule::Action::kObserve: update.Observe(res.metric, series, *number * r.scale); break;
    case Rule::Action::kDistinct: update.AddDistinct(res.metric, series, Hash64(value->text), event_time); break;
    case Rule::Action::kDuration: break;  // ApplyDuration
    case Rule::Action::kSession: break;   // ApplySession
  }
}

void RuleEngine::Expire(MetricStore::Update& update, const Rule& r, Pending& p, double now) {
  const Rule::Pairing& pr = *r.pairing;
  double expired = 0;
  while (!p.order.empty()) {
    auto& [seq, key] = p.order.front();
    auto it = p.open.find(key);
    if (it == p.open.end() || it->second.seq != seq) {
      p.order.pop_front();  // already ended or restarted
      continue;
    }
    if (p.open.size() <= pr.max_pending && it->second.start + pr.timeout > now) break;
    p.open.erase(it);
    p.order.pop_front();
    ++expired;
  }
  if (expired > 0) update.Add(p.expired, p.expired_series, expired);
}

void RuleEngine::ApplyDuration(MetricStore::Update& update, size_t i, const Event& event, double event_time) {
  const Rule& r = rules_->rules[i];
  const Rule::Pairing& pr = *r.pairing;
  Pending& p = pending_[i];
  const bool start = pr.start.Matches(event, memo_);
  const bool end = !start && pr.end.Matches(event, memo_);
  if (start || end) {
    const FieldValue& k = event.at(pr.key_field);
    bool scalar = k.kind == FieldValue::Kind::kString || k.kind == FieldValue::Kind::kNumber;
    if (!scalar || k.text.empty()) {
      if (end) update.Add(p.unmatched, p.unmatched_series, 1);
    } else if (start) {
      // A repeated start restarts the clock: the newest send is the one a receipt answers.
      uint64_t seq = p.next_seq++;
      auto [it, fresh] = p.open.try_emplace(std::string(k.text), Pending::Open{event_time, seq});
      if (!fresh) it->second = Pending::Open{event_time, seq};
      p.order.emplace_back(seq, it->first);
    } else {
      auto it = p.open.find(k.text);
      if (it == p.open.end()) {
        update.Add(p.unmatched, p.unmatched_series, 1);
      } else {
        update.Observe(resolved_[i].metric, update.Series(resolved_[i].metric, {}),
                       std::max(0.0, event_time - it->second.start));
        p.open.erase(it);
      }
    }
  }
  Expire(update, r, p, std::max(event_clock_, event_time));
  Compact(p);
  update.Set(p.pending, p.pending_series, static_cast<double>(p.open.size()));
}

void RuleEngine::Compact(Pending& p) {
  // The deque holds stale entries of ended keys; compact when they dominate.
  if (p.order.size() <= 2 * p.open.size() + 1024) return;
  std::deque<std::pair<uint64_t, std::string>> live;
  for (auto& e : p.order) {
    auto it = p.open.find(e.second);
    if (it != p.open.end() && it->second.seq == e.first) live.push_back(std::move(e));
  }
  p.order.swap(live);
}

int RuleEngine::OutcomeIndex(const Rule::Conversations& c, Sessions& s, std::string_view name) {
  auto it = s.outcome_index.find(name);
  if (it != s.outcome_index.end()) return it->second;
  // Named outcomes and the default are entered first; field values are
  // bounded like any label, past max_outcomes they share one value.
  if (c.outcome_field >= 0 && s.outcome_names.size() >= c.max_outcomes) name = "__overflow__";
  it = s.outcome_index.find(name);
  if (it != s.outcome_index.end()) return it->second;
  const int index = static_cast<int>(s.outcome_names.size());
  s.outcome_names.emplace_back(name);
  s.outcome_index.emplace(std::string(name), index);
  return index;
}

int RuleEngine::SessionOutcome(const Rule::Conversations& c, Sessions& s, const Event& event) {
  if (c.outcome_field >= 0) {
    const FieldValue& v = event.at(c.outcome_field);
    bool scalar = v.kind == FieldValue::Kind::kString || v.kind == FieldValue::Kind::kNumber ||
                  v.kind == FieldValue::Kind::kBool;
    if (!scalar || v.text.empty()) return -1;
    std::string_view text = v.text;
    if (!simdjson::validate_utf8(text.data(), text.size())) text = "__invalid_utf8__";
    return OutcomeIndex(c, s, text);
  }
  // The named outcomes were entered first, in order: index k is outcomes[k].
  for (size_t k = 0; k < c.outcomes.size(); ++k) {
    if (c.outcomes[k].match.Matches(event, memo_)) return static_cast<int>(k);
  }
  return -1;
}

bool RuleEngine::ApplySession(MetricStore::Update& update, size_t i, const Event& event, double event_time) {
  const Rule::Conversations& c = *rules_->rules[i].session;
  Sessions& s = sessions_.at(i);
  const bool message = !c.match || c.match->Matches(event, memo_);
  const FieldValue& k = event.at(c.key_field);
  const bool keyed = (k.kind == FieldValue::Kind::kString || k.kind == FieldValue::Kind::kNumber) && !k.text.empty();
  bool noted = false;
  if (keyed) {
    // Outcome matchers are tried only on keyed events: another user's line never decides this one's.
    const int outcome = SessionOutcome(c, s, event);
    if (message || outcome >= 0) {
      s.tracker.Note(k.text, event_time, message, outcome, s.ended);
      noted = true;
    }
  }
  if (!noted) s.tracker.Expire(std::max(event_clock_, event_time), s.ended);
  FlushSessions(update, c, s);
  return noted;
}

void RuleEngine::FlushSessions(MetricStore::Update& update, const Rule::Conversations& c, Sessions& s) {
  double evicted = 0;
  for (const SessionTracker::Ended& e : s.ended) {
    if (e.evicted) {
      ++evicted;
      continue;
    }
    const int outcome = e.outcome >= 0 ? e.outcome : OutcomeIndex(c, s, c.default_outcome);
    std::vector<std::string_view> label = {s.outcome_names[static_cast<size_t>(outcome)]};
    update.Observe(s.duration, update.Series(s.duration, label), e.duration);
    update.Observe(s.messages, update.Series(s.messages, label), e.messages);
  }
  s.ended.clear();
  if (evicted > 0) update.Add(s.evicted, s.evicted_series, evicted);
  update.Set(s.active, s.active_series, static_cast<double>(s.tracker.active()));
}

void RuleEngine::Tick(MetricStore::Update& update, double wall_now) {
  if (!has_pending_rules() || event_clock_ <= 0) return;
  const double now = event_clock_ + std::max(0.0, wall_now - wall_anchor_);
  for (auto& [i, s] : sessions_) {
    if (s.tracker.active() == 0) continue;
    s.tracker.Expire(now, s.ended);
    FlushSessions(update, *rules_->rules[i].session, s);
  }
  for (auto& [i, p] : pending_) {
    if (p.open.empty()) continue;
    Expire(update, rules_->rules[i], p, now);
    Compact(p);
    update.Set(p.pending, p.pending_series, static_cast<double>(p.open.size()));
  }
}

nlohmann::json RuleEngine::SavePending() const {
  nlohmann::json rules = nlohmann::json::object();
  for (const auto& [i, p] : pending_) {
    // In deque order (the order starts arrived), so max_pending evicts the same keys after a restore.
    nlohmann::json open = nlohmann::json::array();
    for (const auto& [seq, key] : p.order) {
      auto it = p.open.find(key);
      if (it != p.open.end() && it->second.seq == seq) open.push_back({key, it->second.start});
    }
    rules[rules_->rules[i].pairing->signature] = std::move(open);
  }
  for (const auto& [i, s] : sessions_) {
    nlohmann::json open = nlohmann::json::array();
    for (const SessionTracker::Open& o : s.tracker.Save()) {
      nlohmann::json outcome = o.outcome >= 0 ? nlohmann::json(s.outcome_names[static_cast<size_t>(o.outcome)])
                                              : nlohmann::json(nullptr);
      open.push_back({o.key, o.first, o.last, o.messages, std::move(outcome)});
    }
    rules[rules_->rules[i].session->signature] = std::move(open);
  }
  return {{"clock", event_clock_}, {"rules", std::move(rules)}};
}

void RuleEngine::RestorePending(MetricStore::Update& update, const nlohmann::json& saved, double wall_now) {
  // Time while botwatch was down does not count as quiet: lines written then are still to be read.
  wall_anchor_ = wall_now;
  const bool usable = saved.is_object() && saved.contains("rules") && saved["rules"].is_object();
  if (usable) event_clock_ = std::max(event_clock_, saved.value("clock", 0.0));
  for (auto& [i, p] : pending_) {
    // The gauge the store restored may be another rule's: it is set from the keys actually restored.
    update.Set(p.pending, p.pending_series, static_cast<double>(p.open.size()));
    if (!usable) continue;
    auto it = saved["rules"].find(rules_->rules[i].pairing->signature);
    if (it == saved["rules"].end() || !it->is_array()) continue;
    for (const auto& e : *it) {
      if (!e.is_array() || e.size() != 2 || !e[0].is_string() || !e[1].is_number()) continue;
      uint64_t seq = p.next_seq++;
      auto [pos, fresh] = p.open.try_emplace(e[0].get<std::string>(), Pending::Open{e[1].get<double>(), seq});
      if (!fresh) pos->second = Pending::Open{e[1].get<double>(), seq};
      p.order.emplace_back(seq, pos->first);
    }
    update.Set(p.pending, p.pending_series, static_cast<double>(p.open.size()));
  }
  for (auto& [i, s] : sessions_) {
    const Rule::Conversations& c = *rules_->rules[i].session;
    auto it = usable ? saved["rules"].find(c.signature) : saved.end();
    if (usable && it != saved["rules"].end() && it->is_array()) {
      std::vector<SessionTracker::Open> open;
      for (const auto& e : *it) {
        if (!e.is_array() || e.size() != 5 || !e[0].is_string() || !e[1].is_number() || !e[2].is_number() ||
            !e[3].is_number_unsigned()) {
          continue;
        }
        int outcome = e[4].is_string() ? OutcomeIndex(c, s, e[4].get<std::string>()) : -1;
        open.push_back({e[0].get<std::string>(), e[1].get<double>(), e[2].get<double>(),
                        static_cast<uint32_t>(std::min<uint64_t>(e[3].get<uint64_t>(), UINT32_MAX)), outcome});
      }
      s.tracker.Restore(open);
    }
    // Past a lowered max_active, or quiet for the gap while botwatch was down by the event clock.
    s.tracker.Expire(event_clock_, s.ended);
    FlushSessions(update, c, s);
  }
}

}  // namespace botwatch::logs
