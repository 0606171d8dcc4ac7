#include "push/remote_writer.h"

#include <filesystem>

#include "base/logging.h"
#include "base/unix_time.h"
#include "collectors/lib/http_request.h"
#include "push/write_request.h"

namespace botwatch::push {
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
    std::error_code ec;
    std::filesystem::create_directories(state_dir_, ec);
    size_t n = queue_.Load();
    if (n > 0) {
      logging::Info("remote_write: resuming unsent samples from disk",
                    {{"remote", config_.name}, {"batches", std::to_string(n)}});
    }
  }
  thread_ = std::thread([this] { Run(); });
}

void RemoteWriter::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void RemoteWriter::TakeSample() {
  uint64_t samples = 0;
  int64_t ts = NowMs();
  std::string payload = EncodeWriteRequest(gather_(), config_.external_labels, ts, &samples);
  std::lock_guard<std::mutex> lock(mu_);
  queue_.Push(ts, samples, std::move(payload));
  dropped_ += queue_.DropOlderThan(ts - std::chrono::duration_cast<std::chrono::milliseconds>(config_.buffer).count());
}

void RemoteWriter::SendOnce() {
  Queue::Front front;
  {
    std::lock_guard<std::mutex> lock(mu_);
    front = queue_.Oldest(kMaxSamplesPerRequest);
  }
  ProbeRequest req;
  req.method = "POST";
  req.url = config_.url;
  req.headers = config_.headers;
  req.headers.emplace_back("Content-Encoding: snappy");
  req.headers.emplace_back("Content-Type: application/x-protobuf");
  req.headers.emplace_back("X-Prometheus-Remote-Write-Version: 0.1.0");
  req.headers.emplace_back("User-Agent: botwatch-remote-write");
  req.body = SnappyCompress(front.payload);
  req.max_body_bytes = 4096;
  req.tls_verify = config_.tls_verify;
  req.ca_file = config_.ca_file;
  req.cert_file = config_.cert_file;
  req.key_file = config_.key_file;
  ProbeResponse resp = PerformHttp(req, config_.timeout);

  std::vector<const Secret*> secrets;
  for (const Secret& h : config_.redact) secrets.push_back(&h);
  std::lock_guard<std::mutex> lock(mu_);
  bool success = resp.ok() && resp.status >= 200 && resp.status < 300;
  bool retry = !resp.ok() || resp.status >= 500 || resp.status == 429;
  if (success) {
    queue_.Pop(front.batches);
    sent_ += front.samples;
    last_success_ = UnixNow();
    backoff_ = Duration(0);
    retry_at_ = {};
    return;
  }
  std::string error = resp.ok() ? "HTTP " + std::to_string(resp.status) + ": " + QuotePeer(resp.body, secrets)
                                : std::string(ReasonForCurlCode(resp.curl_code)) + ": " +
                                      QuotePeer(resp.curl_error, secrets);
  error = "POST " + UrlOrigin(config_.url) + ": " + error;
  bool changed = error != last_error_;
  last_error_ = error;
  last_error_time_ = UnixNow();
  if (retry) {
    failed_ += front.samples;
    backoff_ = backoff_ == Duration(0) ? Duration(kMinBackoff) : std::min<Duration>(backoff_ * 2, kMaxBackoff);
    Duration wait = backoff_;
    if (resp.status == 429 || resp.status == 503) {
      const std::string& after = resp.Header("retry-after");
      char* end = nullptr;
      long seconds = after.empty() ? -1 : std::strtol(after.c_str(), &end, 10);
      if (seconds >= 0 && end != nullptr && *end == '\0') wait = std::chrono::seconds(std::min(seconds, 300L));
    }
    retry_at_ = std::chrono::steady_clock::now() + wait;
  } else {
    queue_.Pop(front.batches);
    dropped_ += front.samples;
  }
  if (changed) {
    logging::Warn(retry ? "remote_write: send failed; will retry" : "remote_write: receiver rejected the batch; dropped",
                  {{"remote", config_.name}, {"err", error}});
  }
}

void RemoteWriter::Run() {
  auto next_sample = std::chrono::steady_clock::now();
  while (true) {
    auto now = std::chrono::steady_clock::now();
    if (now >= next_sample) {
      TakeSample();
      next_sample += config_.interval;
      if (next_sample <= now) next_sample = now + config_.interval;
    }
    bool send = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (stop_) return;
      send = !queue_.empty() && std::chrono::steady_clock::now() >= retry_at_;
      if (!send) {
        auto until = next_sample;
        if (!queue_.empty() && retry_at_ < until) until = retry_at_;
        cv_.wait_until(lock, until, [this] { return stop_; });
        if (stop_) return;
      }
    }
    if (send) SendOnce();
  }
}

void RemoteWriter::AppendMetrics(std::vector<prometheus::MetricFamily>& families) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto add = [&](const char* name, const char* help, prometheus::MetricType type, double v) {
    prometheus::MetricFamily* f = nullptr;
    for (auto& existing : families) {
      if (existing.name == name) f = &existing;
    }
    if (f == nullptr) {
      families.push_back({name, help, type, {}});
      f = &families.back();
    }
    prometheus::ClientMetric m;
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
      "Samples given up: rejected with a 4xx other than 429, or older than the buffer.", T::Counter,
      static_cast<double>(dropped_));
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
          {"buffer", state_dir_.empty() ? "memory" : "disk"},
          {"samples_sent", sent_},
          {"samples_failed", failed_},
          {"samples_dropped", dropped_},
          {"pending_samples", queue_.pending_samples()},
          {"pending_bytes", queue_.pending_bytes()},
          {"last_success", Iso8601(last_success_)},
          {"last_error", last_error_},
          {"last_error_time", Iso8601(last_error_time_)}};
}

std::vector<prometheus::MetricFamily> RemoteWriteFamilies(const std::vector<std::unique_ptr<RemoteWriter>>& writers) {
  std::vector<prometheus::MetricFamily> out;
  for (const auto& w : writers) w->AppendMetrics(out);
  return out;
}

}  // namespace botwatch::push
