#pragma once

// Pushes every series /metrics shows to one remote_write receiver. Sampling
// and sending are apart, each on its own thread: every `interval` the sampler
// takes a snapshot (through `gather`, the same source /metrics serialises) and
// appends it to the queue whatever the sender is doing; the sender drains the
// queue oldest first, so a slow or hung receiver delays samples but never
// leaves a hole in them.
//
// Network errors, 5xx and 429 are retried with exponential backoff
// (Retry-After honoured, in seconds or as an HTTP date), keeping the batches.
// A 400 for a request of several batches is retried one batch at a time, so
// only the batch the receiver rejects is dropped. A 307/308 to the same origin
// is followed (the body and headers go with it); any other 3xx, and any other
// 4xx, drops the request's batches.

#include "prom/family.h"

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

namespace botwatch {
struct ProbeResponse;

using Gather = std::function<std::vector<Family>()>;

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
  void AppendMetrics(std::vector<Family>& families) const;
  nlohmann::json Status() const;

 private:
  void SampleLoop();
  void SendLoop();
  void TakeSample();
  // Sends the oldest batches once and settles them (sent, kept, or dropped).
  void SendOnce();
  // With mu_ held: a request the receiver took, and one it did not (kept to
  // retry, resent batch by batch after a 400, or dropped).
  void SettleSent(const Queue::Front& front);
  void SettleFailed(const Queue::Front& front, const ProbeResponse& resp);
  // Drops what is older than `buffer` (never the batches of a request in flight).
  void DropExpired(int64_t now_ms);

  RemoteWriteConfig config_;
  std::string state_dir_;
  Gather gather_;
  mutable std::mutex mu_;  // the fields below
  std::condition_variable cv_;
  bool stop_ = false;
  Queue queue_;
  uint64_t sent_ = 0, failed_ = 0, dropped_ = 0;
  bool in_flight_ = false;
  size_t one_by_one_ = 0;  // batches still to send alone after a 400
  double last_success_ = 0;
  std::string last_error_;
  double last_error_time_ = 0;
  Duration backoff_{0};
  std::chrono::steady_clock::time_point retry_at_{};
  std::thread sampler_, sender_;
};

// Families of every writer, merged (one family per metric name).
std::vector<Family> RemoteWriteFamilies(const std::vector<std::unique_ptr<RemoteWriter>>& writers);

}  // namespace botwatch
