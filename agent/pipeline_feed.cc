#include "agent/pipeline_feed.h"

#include <chrono>
#include <cmath>
#include <random>

namespace botwatch {
namespace {

uint64_t ProcessSalt() {
  static const uint64_t salt = [] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }();
  return salt;
}

FeedRedactor::Kind KindOf(FeedRule::Field::Kind k) {
  switch (k) {
    case FeedRule::Field::Kind::kIdentifier:
      return FeedRedactor::Kind::kIdentifier;
    case FeedRule::Field::Kind::kText:
      return FeedRedactor::Kind::kText;
    case FeedRule::Field::Kind::kPlain:
      break;
  }
  return FeedRedactor::Kind::kPlain;
}

// The JSON value of a parsed field; null when absent or not a scalar.
std::optional<nlohmann::json> ValueOf(const FieldValue& v) {
  using K = FieldValue::Kind;
  switch (v.kind) {
    case K::kString:
      return nlohmann::json(std::string(v.text));
    case K::kBool:
      return nlohmann::json(v.text == "true");
    case K::kNull:
      return nlohmann::json(nullptr);
    case K::kNumber:
      // Integers stay integers (840, not 840.0).
      if (std::isfinite(v.number) && std::floor(v.number) == v.number && std::fabs(v.number) < 9.0e15) {
        return nlohmann::json(static_cast<int64_t>(v.number));
      }
      return nlohmann::json(v.number);
    case K::kAbsent:
    case K::kComposite:
      break;
  }
  return std::nullopt;
}

}  // namespace

FeedSink MakePipelineFeedSink(FeedHub* hub) {
  FeedRedactor redactor(hub->config().allow_text, ProcessSalt());
  return [hub, redactor](const RuleSet& rules, const FeedRule& rule, const Event& event, double event_time) {
    double steady = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    if (!hub->Admit(steady)) return;  // over the rate: skip before building anything
    nlohmann::json fields = nlohmann::json::object();
    for (const auto& f : rule.fields) {
      if (auto value = ValueOf(event.at(f.slot))) redactor.Add(f.name, *value, KindOf(f.kind), fields);
    }
    std::string level;
    if (rules.level_field >= 0 && event.at(rules.level_field).kind == FieldValue::Kind::kString) {
      level = std::string(event.at(rules.level_field).text.substr(0, 16));
    }
    if (event_time <= 0) {
      event_time = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    }
    hub->Publish(rule.type, level, event_time, std::move(fields));
  };
}

}  // namespace botwatch
