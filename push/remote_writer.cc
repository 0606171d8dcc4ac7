#include "push/remote_writer.h"

#include <algorithm>
#include <ctime>
#include <optional>

#include "base/logging.h"
#include "base/unix_time.h"
#include "collectors/lib/http_request.h"
#include "push/write_request.h"

namespace botwatch {
namespace {

// Catching up after an outage sends several intervals per request, up to this
// many samples, so a long backlog drains quickly without huge requests.
constexpr uint64_t kMaxSamplesPerRequest = 20000;
constexpr auto kMinBackoff = std::chrono::milliseconds(500);
// Prometheus' own queue_config default (max_backoff: 5s): a receiver that comes
// back is noticed within 5 s, not after a 30 s wait, and one request per 5 s
// costs a down receiver nothing.
constexpr auto kMaxBackoff = std::chrono::seconds(5);

std::string FileSafe(const std::string& name) {
  std::string out;
  for (char c : name) out += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' ? c : '_';
  return out;
}

int64_t NowMs() { return static_cast<int64_t>(UnixNow() * 1000); }

}  // namespace

RemoteWriter::RemoteWriter(RemoteWriteConfig config, std::string state_dir, Gather gather)
    : config_(std::move(config)),
      state_dir_(std::move(state_dir)),
      gather_(std::move(gather)),
      queue_(state_dir_.empty() ? "" : state_dir_ + "/remote_write-" + FileSafe(config_.name) + ".segment") {}

RemoteWriter::~RemoteWriter() { Stop(); }

void RemoteWriter::Start() {
  if (!state_dir_.empty()) {
    if (botwatch::Status st = PrepareStateDir(state_dir_); !st.ok())
      logging::Error("state_dir unusable", {{"err", st.message()}});
    size_t n = queue_.Load();
    if (n > 0) {
      logging::Info("remote_write: resuming unsent samples from disk",
                    {{"remote", config_.name}, {"batches", std::to_string(n)}});
    }
  }
  sampler_ = std::thread([this] { SampleLoop(); });
  sender_ = std::thread([this] { SendLoop(); });
}

void RemoteWriter::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (sampler_.joinable()) sampler_.join();
  if (sender_.joinable()) sender_.join();
}

void RemoteWriter::DropExpired(int64_t now_ms) {
  if (in_flight_) return;  // the sender drops them once the request is settled
  dropped_ +=
      queue_.DropOlderThan(now_ms - std::chrono::duration_cast<std::chrono::milliseconds>(config_.buffer).count());
}

void RemoteWriter::TakeSample() {
  uint64_t samples = 0;
  int64_t ts = NowMs();
  std::string payload = EncodeWriteRequest(gather_(), config_.external_labels, ts, &samples);
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.Push(ts, samples, std::move(payload));
    DropExpired(ts);
  }
  cv_.notify_all();
}

namespace {

// Retry-After in seconds or as an HTTP date (RFC 9110 10.2.3); nullopt if neither.
std::optional<Duration> ParseRetryAfter(const std::string& after) {
  if (after.empty()) return std::nullopt;
  char* end = nullptr;
  long seconds = std::strtol(after.c_str(), &end, 10);
  if (end != after.c_str() && *end == '\0') {
    if (seconds < 0) return std::nullopt;
    return std::chrono::seconds(std::min(seconds, 300L));
  }
  std::tm tm{};
  const char* rest = strptime(after.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (rest == nullptr || *rest != '\0') return std::nullopt;
  double wait = static_cast<double>(timegm(&tm)) - UnixNow();
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(std::clamp(wait, 0.0, 300.0)));
}

// A redirect botwatch follows: 307/308 (they keep the method and body) to the
// same origin (the credentials may go there). The Location, made absolute; "" otherwise.
std::string FollowableRedirect(const std::string& url, const ProbeResponse& resp) {
  if (resp.status != 307 && resp.status != 308) return "";
  std::string location = resp.Header("location");
  if (location.empty()) return "";
  if (location[0] == '/' && (location.size() == 1 || location[1] != '/')) location = UrlOrigin(url) + location;
  return UrlOrigin(location) == UrlOrigin(url) ? location : "";
}

// The POST of one remote_write request carrying `body` (snappy-compressed protobuf).
ProbeRequest RemoteWriteRequest(const RemoteWriteConfig& config, std::string body) {
  ProbeRequest req;
  req.method = "POST";
  req.url = config.url;
  req.headers = config.headers;
  req.headers.emplace_back("Content-Encoding: snappy");
  req.headers.emplace_back("Content-Type: application/x-protobuf");
  req.headers.emplace_back("X-Prometheus-Remote-Write-Version: 0.1.0");
  req.headers.emplace_back("User-Agent: botwatch-remote-write");
  req.body = std::move(body);
  req.max_body_bytes = 4096;
  req.tls_verify = config.tls_verify;
  req.ca_file = config.ca_file;
  req.cert_file = config.cert_file;
  req.key_file = config.key_file;
  return req;
}

// Sends `req`, following up to three followable redirects, all within `timeout`.
ProbeResponse PostFollowingRedirects(ProbeRequest req, Duration timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  ProbeResponse resp;
  for (int hops = 0;; ++hops) {
    resp = PerformHttp(req, std::chrono::duration_cast<Duration>(deadline - std::chrono::steady_clock::now()));
    std::string next = resp.ok() ? FollowableRedirect(req.url, resp) : "";
    if (next.empty() || hops >= 3) return resp;
    req.url = next;
  }
}

// Why a request failed, for the log and the status page, secrets redacted.
std::string SendError(const RemoteWriteConfig& config, const ProbeResponse& resp) {
  std::vector<const Secret*> secrets;
  for (const Secret& h : config.redact) secrets.push_back(&h);
  std::string error = resp.ok()
                          ? "HTTP " + std::to_string(resp.status) + ": " + QuotePeer(resp.body, secrets)
                          : std::string(ReasonForCurlCode(resp.curl_code)) + ": " + QuotePeer(resp.curl_error, secrets);
  if (resp.ok() && resp.status >= 300 && resp.status < 400) {
    error =
        "HTTP " + std::to_string(resp.status) + " redirect to " +
        QuotePeer(UrlOrigin(resp.Header("location")).empty() ? "a path" : UrlOrigin(resp.Header("location")), secrets) +
        " not followed (only 307/308 within the same origin are): set url to the receiver's address";
  }
  return "POST " + UrlOrigin(config.url) + ": " + error;
}

}  // namespace

void RemoteWriter::SendOnce() {
  Queue::Front front;
  {
    std::lock_guard<std::mutex> lock(mu_);
    front = queue_.Oldest(kMaxSamplesPerRequest, one_by_one_ > 0 ? 1 : SIZE_MAX);
    in_flight_ = true;
  }
  ProbeResponse resp =
      PostFollowingRedirects(RemoteWriteRequest(config_, SnappyCompress(front.payload)), config_.timeout);
  std::lock_guard<std::mutex> lock(mu_);
  in_flight_ = false;
  if (resp.ok() && resp.status >= 200 && resp.status < 300) {
    SettleSent(front);
  } else {
    SettleFailed(front, resp);
  }
}

void RemoteWriter::SettleSent(const Queue::Front& front) {
  queue_.Pop(front.batches);
  sent_ += front.samples;
  one_by_one_ = one_by_one_ > front.batches ? one_by_one_ - front.batches : 0;
  last_success_ = UnixNow();
  backoff_ = Duration(0);
  retry_at_ = {};
  DropExpired(NowMs());
}

void RemoteWriter::SettleFailed(const Queue::Front& front, const ProbeResponse& resp) {
  bool retry = !resp.ok() || resp.status >= 500 || resp.status == 429;
  std::string error = SendError(config_, resp);
  bool changed = error != last_error_;
  last_error_ = error;
  last_error_time_ = UnixNow();
  if (retry) {
    failed_ += front.samples;
    backoff_ = backoff_ == Duration(0) ? Duration(kMinBackoff) : std::min<Duration>(backoff_ * 2, kMaxBackoff);
    Duration wait = backoff_;
    if (resp.status == 429 || resp.status == 503) {
      if (auto after = ParseRetryAfter(resp.Header("retry-after"))) wait = *after;
    }
    retry_at_ = std::chrono::steady_clock::now() + wait;
  } else if (resp.status == 400 && front.batches > 1) {
    // One bad batch must not take the rest of a catch-up request with it.
    one_by_one_ = front.batches;
    changed = true;
  } else {
    queue_.Pop(front.batches);
    dropped_ += front.samples;
    one_by_one_ = one_by_one_ > front.batches ? one_by_one_ - front.batches : 0;
  }
  DropExpired(NowMs());
  if (changed) {
    const char* what = retry ? "remote_write: send failed; will retry"
                       : (resp.status == 400 && one_by_one_ == front.batches && front.batches > 1)
                           ? "remote_write: receiver rejected a request of several batches; resending them one by one"
                           : "remote_write: receiver rejected the batch; dropped";
    logging::Warn(what, {{"remote", config_.name}, {"err", error}});
  }
}

void RemoteWriter::SampleLoop() {
  auto next_sample = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    lock.unlock();
    TakeSample();
    lock.lock();
    next_sample += config_.interval;
    auto now = std::chrono::steady_clock::now();
    if (next_sample <= now) next_sample = now + config_.interval;
    cv_.wait_until(lock, next_sample, [&] { return stop_ || std::chrono::steady_clock::now() >= next_sample; });
  }
}

void RemoteWriter::SendLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    if (queue_.empty()) {
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      continue;
    }
    if (std::chrono::steady_clock::now() < retry_at_) {
      cv_.wait_until(lock, retry_at_, [this] { return stop_; });
      continue;
    }
    lock.unlock();
    SendOnce();
    lock.lock();
  }
}

void RemoteWriter::AppendMetrics(std::vector<Family>& families) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto add = [&](const char* name, const char* help, prometheus::MetricType type, double v) {
    Family* f = nullptr;
    for (auto& existing : families) {
      if (existing.name == name) f = &existing;
    }
    if (f == nullptr) {
      families.push_back({name, help, type, {}});
      f = &families.back();
    }
    Family::Metric m;
    m.label.push_back({"remote", config_.name});
    if (type == prometheus::MetricType::Counter) {
      m.counter.value = v;
    } else {
      m.gauge.value = v;
    }
    f->metric.push_back(std::move(m));
  };
  using T = prometheus::MetricType;
  add("botwatch_remote_write_samples_sent_total", "Samples the remote_write receiver accepted.", T::Counter,
      static_cast<double>(sent_));
  add("botwatch_remote_write_samples_failed_total",
      "Samples in requests that failed and are retried (network error, 5xx, 429).", T::Counter,
      static_cast<double>(failed_));
  add("botwatch_remote_write_samples_dropped_total",
      "Samples given up: rejected with a 4xx other than 429, answered with a 3xx botwatch does not follow "
      "(anything but a 307/308 within the same origin), or older than the buffer.",
      T::Counter, static_cast<double>(dropped_));
  add("botwatch_remote_write_records_corrupt_total",
      "Damaged or torn records found in the segment file at start, skipped and never sent.", T::Counter,
      static_cast<double>(queue_.records_corrupt()));
  add("botwatch_remote_write_pending_bytes", "Encoded samples waiting to be sent (uncompressed bytes).", T::Gauge,
      static_cast<double>(queue_.pending_bytes()));
  add("botwatch_remote_write_last_success_timestamp_seconds",
      "Unix time of the last request the receiver accepted (0: never).", T::Gauge, last_success_);
}

nlohmann::json RemoteWriter::Status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {{"name", config_.name},
          {"url", UrlOrigin(config_.url)},
          {"interval_seconds", ToSeconds(config_.interval)},
          {"buffer", state_dir_.empty()      ? std::string("memory")
                     : queue_.disk_failing() ? "memory (disk failing: " + queue_.disk_error() + ")"
                                             : std::string("disk")},
          {"records_corrupt", queue_.records_corrupt()},
          {"redirects", "307/308 within the same origin are followed; any other 3xx drops the samples"},
          {"samples_sent", sent_},
          {"samples_failed", failed_},
          {"samples_dropped", dropped_},
          {"pending_samples", queue_.pending_samples()},
          {"pending_bytes", queue_.pending_bytes()},
          {"last_success", Iso8601(last_success_)},
          {"last_error", last_error_},
          {"last_error_time", Iso8601(last_error_time_)}};
}

std::vector<Family> RemoteWriteFamilies(const std::vector<std::unique_ptr<RemoteWriter>>& writers) {
  std::vector<Family> out;
  for (const auto& w : writers) w->AppendMetrics(out);
  return out;
}

}  // namespace botwatch
