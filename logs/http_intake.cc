#include "logs/http_intake.h"

#include <simdjson.h>

#include <chrono>
#include <cmath>

namespace botwatch {
namespace {

std::string TooLongMessage(size_t max) { return "longer than max_line_bytes (" + std::to_string(max) + ")"; }

void Reject(IntakeResult& r, size_t position, std::string message) {
  if (r.rejected++ == 0) {
    r.first_error_position = position;
    r.first_error = std::move(message);
  }
}

}  // namespace

IntakeResult IngestBody(std::string_view body, size_t max_line_bytes, LineSink& sink) {
  IntakeResult r;
  simdjson::dom::parser parser;
  size_t first = body.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && body[first] == '[') {
    r.array = true;
    simdjson::dom::element doc;
    if (simdjson::error_code err = parser.parse(body.data(), body.size()).get(doc)) {
      // Nothing of a broken array can be trusted: the whole body is one bad line.
      Reject(r, 1, std::string("invalid JSON: ") + simdjson::error_message(err));
      if (body.size() > max_line_bytes) {
        sink.TooLong();
      } else {
        sink.Line(body);
      }
      return r;
    }
    simdjson::dom::array items;
    if (doc.get_array().get(items)) return r;  // unreachable: the body starts with '['
    size_t item = 0;
    for (simdjson::dom::element e : items) {
      ++item;
      std::string line = simdjson::minify(e);
      if (line.size() > max_line_bytes) {
        Reject(r, item, TooLongMessage(max_line_bytes));
        sink.TooLong();
        continue;
      }
      sink.Line(line);  // a non-object item is a parse error there too
      if (e.is_object()) {
        ++r.accepted;
      } else {
        Reject(r, item, "not a JSON object");
      }
    }
    return r;
  }
  size_t number = 0;
  while (!body.empty()) {
    ++number;
    size_t nl = body.find('\n');
    std::string_view line = body.substr(0, nl);
    body.remove_prefix(nl == std::string_view::npos ? body.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (BlankLine(line)) continue;
    if (line.size() > max_line_bytes) {
      Reject(r, number, TooLongMessage(max_line_bytes));
      sink.TooLong();
      continue;
    }
    sink.Line(line);
    simdjson::dom::element doc;
    if (simdjson::error_code err = parser.parse(line.data(), line.size()).get(doc)) {
      Reject(r, number, std::string("invalid JSON: ") + simdjson::error_message(err));
    } else if (!doc.is_object()) {
      Reject(r, number, "not a JSON object");
    } else {
      ++r.accepted;
    }
  }
  return r;
}

std::optional<double> TokenBucket::Take(double now) {
  if (last_ && now > *last_) tokens_ = std::min(burst_, tokens_ + (now - *last_) * rate_);
  if (!last_ || now > *last_) last_ = now;
  if (tokens_ >= 1) {
    tokens_ -= 1;
    return std::nullopt;
  }
  return (1 - tokens_) / rate_;
}

HttpIntake::HttpIntake(std::string source, size_t max_body_bytes, size_t max_line_bytes, double rate, double burst)
    : source_(std::move(source)),
      max_body_bytes_(max_body_bytes),
      max_line_bytes_(max_line_bytes),
      bucket_(rate, burst) {}

std::optional<double> HttpIntake::TakeToken(std::optional<double> now) {
  double t = now ? *now : std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  std::lock_guard<std::mutex> lock(mu_);
  return bucket_.Take(t);
}

void HttpIntake::CountAnswer(int status) {
  std::lock_guard<std::mutex> lock(mu_);
  answers_[status] += 1;
}

nlohmann::json HttpIntake::Save() const {
  std::lock_guard<std::mutex> lock(mu_);
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [code, n] : answers_) out[std::to_string(code)] = n;
  return out;
}

void HttpIntake::Restore(const nlohmann::json& state) {
  if (!state.is_object()) return;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [code, n] : state.items()) {
    if (!n.is_number()) continue;
    int c = std::atoi(code.c_str());
    if (c >= 100 && c <= 599) answers_[c] = n.get<double>();
  }
}

Family HttpIntake::RequestsFamily(const std::vector<const HttpIntake*>& intakes) {
  Family f;
  f.name = "botwatch_log_intake_requests_total";
  f.help = "Requests to POST /api/v1/logs by source and answer code (after authentication).";
  f.type = prometheus::MetricType::Counter;
  for (const HttpIntake* in : intakes) {
    std::lock_guard<std::mutex> lock(in->mu_);
    for (const auto& [code, n] : in->answers_) {
      Family::Metric m;
      m.label = {{"code", std::to_string(code)}, {"source", in->source_}};
      m.counter.value = n;
      f.metric.push_back(std::move(m));
    }
  }
  return f;
}

}  // namespace botwatch
