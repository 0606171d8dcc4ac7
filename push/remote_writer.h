#pragma once

// Pushes every series /metrics shows to one remote_write receiver, on its own
// thread: every `interval` it takes a snapshot (through `gather`, the same
// source /metrics serialises), encodes it into the queue, and sends the queue
// oldest first. Network errors, 5xx and 429 are retried with exponential
// backoff (Retry-After honoured), keeping the batch; another 4xx drops it.

#include <prometheus/metric_family.h>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "push/queue.h"
#include "push/remote_write_config.h"

namespace botwatch::push {

using Gather = std::function<std::vector<prometheus::MetricFamily>()>;

class RemoteWriter {
 public:
  // `state_dir` "": the queue lives in memory only.
  RemoteWriter(RemoteWriteConfig config, std::string state_dir, Gather gather);
  ~RemoteWriter();
  RemoteWriter(const RemoteWriter&) = delete;
  RemoteWriter& operator=(const RemoteWriter&) = delete;

  void Start();
  void Stop();

  const std::string& name() const { return config_.name; }
  // botwatch_remote_write_* samples for this remote (labelled remote=name).
  void AppendMetrics(std::vector<prometheus::MetricFamily>& families) const;
  nlohmann::json Status() const;

 private:
  void Run();
  void TakeSample();
  // Sends the oldest batches once; false if the receiver asked to retry.
  void SendOnce();

  RemoteWriteConfig config_;
  std::string state_dir_;
  Gather gather_;
  mutable std::mutex mu_;  // the fields below
  std::condition_variable cv_;
  bool stop_ = false;
  Queue queue_;
  uint64_t sent_ = 0, failed_ = 0, dropped_ = 0;
  double last_success_ = 0;
  std::string last_error_;
  double last_error_time_ = 0;
  Duration backoff_{0};
  std::chrono::steady_clock::time_point retry_at_{};
  std::thread thread_;
};

// Families of every writer, merged (one family per metric name).
std::vector<prometheus::MetricFamily> RemoteWriteFamilies(const std::vector<std::unique_ptr<RemoteWriter>>& writers);

}  // namespace botwatch::push
