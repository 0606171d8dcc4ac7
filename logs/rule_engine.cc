#include "logs/rule_engine.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>

#include <simdjson.h>

#include "base/unix_time.h"

namespace botwatch {

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
        case Op::kEquals:
          result = scalar && v.text == value;
          break;
        case Op::kNotEquals:
          result = !scalar || v.text != value;
          break;
        case Op::kOneOf:
          result = scalar && std::find(values.begin(), values.end(), v.text) != values.end();
          break;
        case Op::kRegex:
          result = scalar && std::regex_search(v.text.begin(), v.text.end(), *re);
          break;
        case Op::kExists:
          result = (v.present() && v.kind != FieldValue::Kind::kNull) == exists;
          break;
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
    bool fixed =
        !r.session && std::all_of(r.labels.begin(), r.labels.end(), [](const Rule::Label& l) { return l.field < 0; });
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
    case Rule::Action::kDec:
      update.Add(res.metric, series, -1);
      break;
    case Rule::Action::kAdd:
      update.Add(res.metric, series, *number * r.scale);
      if (update.HasHistory(res.metric)) update.NoteHistory(res.metric, series, event_time, *number * r.scale);
      break;
    case Rule::Action::kSet:
      update.Set(res.metric, series, *number * r.scale);
      break;
    case Rule::Action::kSetTimestamp:
      update.Set(res.metric, series, event_time);
      break;
    case Rule::Action::kObserve:
      update.Observe(res.metric, series, *number * r.scale);
      break;
    case Rule::Action::kDistinct:
      update.AddDistinct(res.metric, series, Hash64(value->text), event_time);
      break;
    case Rule::Action::kDuration:
      break;  // ApplyDuration
    case Rule::Action::kSession:
      break;  // ApplySession
  }
}

namespace {

// Duration and session keys (message ids, user ids, phone numbers) are only
// ever compared for equality, so the engine keeps, and the state file stores,
// a hash of them instead: the ids themselves never reach the disk.
constexpr std::string_view kHashedKey = "h:";

std::string HashedKey(std::string_view key) {
  if (key.substr(0, kHashedKey.size()) == kHashedKey && key.size() == kHashedKey.size() + 16) return std::string(key);
  char buf[19];
  std::snprintf(buf, sizeof buf, "h:%016llx", static_cast<unsigned long long>(Hash64(key)));
  return buf;
}

}  // namespace

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
      auto [it, fresh] = p.open.try_emplace(HashedKey(k.text), Pending::Open{event_time, seq});
      if (!fresh) it->second = Pending::Open{event_time, seq};
      p.order.emplace_back(seq, it->first);
    } else {
      auto it = p.open.find(HashedKey(k.text));
      if (it == p.open.end()) {
        update.Add(p.unmatched, p.unmatched_series, 1);
      } else if (it->second.start + pr.timeout <= event_time) {
        // Its start expired before this end arrived (no other line moved the
        // clock in between): counted as expired, never observed.
        update.Add(p.expired, p.expired_series, 1);
        p.open.erase(it);
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
    bool scalar =
        v.kind == FieldValue::Kind::kString || v.kind == FieldValue::Kind::kNumber || v.kind == FieldValue::Kind::kBool;
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
      s.tracker.Note(HashedKey(k.text), event_time, message, outcome, s.ended);
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
      nlohmann::json outcome =
          o.outcome >= 0 ? nlohmann::json(s.outcome_names[static_cast<size_t>(o.outcome)]) : nlohmann::json(nullptr);
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
      auto [pos, fresh] =
          p.open.try_emplace(HashedKey(e[0].get<std::string>()), Pending::Open{e[1].get<double>(), seq});
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
        open.push_back({HashedKey(e[0].get<std::string>()), e[1].get<double>(), e[2].get<double>(),
                        static_cast<uint32_t>(std::min<uint64_t>(e[3].get<uint64_t>(), UINT32_MAX)), outcome});
      }
      s.tracker.Restore(open);
    }
    // Past a lowered max_active, or quiet for the gap while botwatch was down by the event clock.
    s.tracker.Expire(event_clock_, s.ended);
    FlushSessions(update, c, s);
  }
}

}  // namespace botwatch
