#include "agent/intake_endpoint.h"

#include <nlohmann/json.hpp>

#include <malloc.h>

#include <cctype>
#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <variant>

#include "base/logging.h"
#include "logs/pipeline.h"

namespace botwatch {
namespace {

HttpResponse JsonAnswer(int status, const nlohmann::json& body) {
  return HttpResponse(status, "application/json",
                      body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

HttpResponse Error(int status, const std::string& message) { return JsonAnswer(status, {{"error", message}}); }

// The value of `key` in a raw query string (no percent-decoding: source names
// are letters, digits, _ - . only).
std::string QueryValue(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    if (pair.substr(0, key.size()) == key && pair.size() > key.size() && pair[key.size()] == '=') {
      return std::string(pair.substr(key.size() + 1));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return "";
}

// The rest of the body is left unread; the connection closes (see Close()).
HttpResponse TooLarge(size_t max) {
  return Error(413, "body larger than max_body_bytes (" + std::to_string(max) + ")");
}

bool ValidSourceName(const std::string& s) {
  return !s.empty() && s.size() <= 64 &&
         s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") == std::string::npos;
}

// The http source named by the request (or the only one), or an answer.
std::variant<HttpIntake*, HttpResponse> FindSource(LogPipeline* pipeline, std::string& name) {
  if (pipeline != nullptr && name.empty()) {
    int http_sources = 0;
    for (const auto& s : pipeline->config().sources) {
      if (s.type == SourceType::kHttp && ++http_sources == 1) name = s.name;
    }
    if (http_sources > 1) return Error(400, "several http log sources are configured: add ?source=NAME");
  }
  HttpIntake* intake = pipeline ? pipeline->Intake(name) : nullptr;
  if (intake != nullptr && pipeline->Sink(name) != nullptr) return intake;
  if (name.empty()) return Error(404, "no log source of type http is configured");
  // The name is echoed only when it is a valid one, never arbitrary request content.
  return Error(404, ValidSourceName(name) ? "no log source of type http named \"" + name + "\"" : "no such log source");
}

// Runs `fn` with the running pipeline and the http source the request names
// (FindSource), while no reload can swap them. The lookup's answer when there
// is no such source, else fn's.
using WithIntake = std::function<std::optional<HttpResponse>(LogPipeline&, HttpIntake&)>;
std::optional<HttpResponse> WithSource(const CurrentPipeline& current, std::string& name, const WithIntake& fn) {
  std::optional<HttpResponse> out;
  current([&](const std::shared_ptr<LogPipeline>& pipeline) {
    auto found = FindSource(pipeline.get(), name);
    if (auto* r = std::get_if<HttpResponse>(&found)) {
      out = std::move(*r);
      return;
    }
    out = fn(*pipeline, *std::get<HttpIntake*>(found));
  });
  return out;
}

HttpResponse Serve(const HttpRequest& req, const CurrentPipeline& current);

// Every intake answer asks the client to close. A kept-alive connection is
// its client's own and counts toward the per-client limit (32), and a sender
// such as winston's Http transport opens one connection per concurrent
// request: kept alive, a burst of 49 events would fill the limit with idle
// connections and the next one would be refused.
HttpResponse Close(HttpResponse r) {
  if (r.read_body_then) {
    r.read_body_then = [then = std::move(r.read_body_then)](BodyRead read, std::string body) {
      return Close(then(read, std::move(body)));
    };
  } else {
    r.headers.emplace_back("Connection", "close");
  }
  return r;
}

}  // namespace

HttpResponse ServeLogIntake(const HttpRequest& req, const CurrentPipeline& current) {
  return Close(Serve(req, current));
}

namespace {

// Only JSON types: a browser may send text/plain or a form cross-origin
// without asking first, and must not be able to inject log lines.
bool IsJsonMediaType(const std::string& content_type) {
  std::string media = content_type.substr(0, content_type.find(';'));
  while (!media.empty() && media.back() == ' ') media.pop_back();
  for (char& c : media) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  return media == "application/json" || media == "application/x-ndjson" || media == "application/jsonl" ||
         media == "application/json-seq";
}

// Before reading the body: the source's rate, the body's type and encoding,
// its announced size. An answer refuses the request (and is counted); nullopt
// lets it in, with *max_body_bytes set.
std::optional<HttpResponse> AdmitBeforeBody(const HttpRequest& req, const std::string& name, HttpIntake& intake,
                                            size_t* max_body_bytes) {
  auto answer = [&](HttpResponse r) {
    intake.CountAnswer(r.status);
    return std::optional<HttpResponse>(std::move(r));
  };
  if (std::optional<double> wait = intake.TakeToken()) {
    HttpResponse r = Error(429, "rate limit of log source \"" + name + "\" exceeded; retry later");
    r.headers.emplace_back("Retry-After", std::to_string(static_cast<long long>(std::ceil(*wait))));
    return answer(std::move(r));
  }
  if (!IsJsonMediaType(req.Header("Content-Type"))) {
    return answer(Error(415, "send Content-Type: application/json or application/x-ndjson"));
  }
  const char* encoding = req.header("Content-Encoding");
  if (encoding != nullptr && std::string_view(encoding) != "identity") {
    return answer(Error(415, "compressed bodies are not accepted; send plain NDJSON or JSON"));
  }
  *max_body_bytes = intake.max_body_bytes();
  if (req.content_length > 0 && static_cast<uint64_t>(req.content_length) > *max_body_bytes) {
    return answer(TooLarge(*max_body_bytes));
  }
  return std::nullopt;
}

// The body, read: its lines go into the source's sink; the answer says how
// many were accepted and the first error.
HttpResponse IngestReadBody(BodyRead read, const std::string& body, size_t max_body_bytes, const std::string& name,
                            LogPipeline& pipeline, HttpIntake& intake) {
  HttpResponse resp;
  if (read == BodyRead::kTooLarge) {
    resp = TooLarge(max_body_bytes);
  } else if (read == BodyRead::kFailed) {
    resp = Error(400, "could not read the request body");
  } else {
    IntakeResult result = IngestBody(body, intake.max_line_bytes(), *pipeline.Sink(name));
    nlohmann::json out = {{"accepted", result.accepted}, {"rejected", result.rejected}};
    if (result.rejected == 0) {
      resp = JsonAnswer(200, out);
    } else {
      out["first_error"] = {{result.array ? "item" : "line", result.first_error_position},
                            {"error", result.first_error}};
      resp = JsonAnswer(400, out);
      logging::Debug("log intake: rejected lines", {{"source", name},
                                                    {"accepted", std::to_string(result.accepted)},
                                                    {"rejected", std::to_string(result.rejected)}});
    }
  }
  intake.CountAnswer(resp.status);
  return resp;
}

HttpResponse Serve(const HttpRequest& req, const CurrentPipeline& current) {
  if (req.method != "POST") {
    HttpResponse r = Error(405, "use POST /api/v1/logs");
    r.headers.emplace_back("Allow", "POST");
    return r;
  }
  std::string name = QueryValue(req.query, "source");
  // Before reading the body: which source, its limits, its rate.
  size_t max_body_bytes = 0;
  std::optional<HttpResponse> early = WithSource(current, name, [&](LogPipeline&, HttpIntake& intake) {
    return AdmitBeforeBody(req, name, intake, &max_body_bytes);
  });
  if (early) return std::move(*early);

  // The body is read by the web server (within its deadline, off any worker),
  // then the rest runs, with its own copy of `current` (often a temporary).
  return HttpResponse::NeedBody(
      max_body_bytes, [current, name, max_body_bytes](BodyRead read, std::string body) mutable {
        // glibc keeps a freed large body in the worker thread's arena; give it back
        // to the system, or every worker keeps its biggest body forever.
        struct Trim {
          std::string* body;
          ~Trim() {
            if (body->capacity() >= (1u << 20)) {
              std::string().swap(*body);
              malloc_trim(0);
            }
          }
        } trim{&body};
        // A reload may have come in between: the source is looked up again.
        std::optional<HttpResponse> answer = WithSource(current, name, [&](LogPipeline& pipeline, HttpIntake& intake) {
          return std::optional<HttpResponse>(IngestReadBody(read, body, max_body_bytes, name, pipeline, intake));
        });
        return answer ? std::move(*answer) : HttpResponse{};
      });
}

}  // namespace
}  // namespace botwatch
