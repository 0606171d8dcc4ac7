#pragma once

// The live feed (/api/v1/feed): recent log events as Server-Sent Events.
//
// The log pipeline publishes redacted events into a bounded ring buffer and
// never waits on a client. One feed thread (started with the first client)
// serves every client: each reads the ring at its own pace with a cursor, and
// gets its next batch only once the previous one is out (the web server's
// stream writes asynchronously, web/web_server.h), so a client that stops
// reading holds at most one batch; one that falls a whole ring behind is
// dropped and counted, and a reconnecting client's Last-Event-ID replays what
// is still buffered. The number of clients is bounded.

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/config_node.h"
#include "base/duration.h"
#include "prom/family.h"
#include "web/web_server.h"

namespace botwatch {

struct FeedConfig {
  size_t max_clients = 8;
  size_t buffer_events = 1000;                   // kept for Last-Event-ID replay and slow readers
  size_t backlog = 20;                           // sent to a client that connects without Last-Event-ID
  bool allow_text = false;                       // message text fields are dropped unless true
  Duration heartbeat = std::chrono::seconds(5);  // also how soon a vanished client is noticed
  // Events published per second at most: a feed is read by people, and a burst
  // (a backlog being read, a log storm) must cost the pipeline next to nothing.
  int max_events_per_second = 100;
};

// Reads the optional top-level `feed:` map (throws ConfigError with file:line:col).
FeedConfig ReadFeedConfig(ConfigMap& top);

// What the feed may show of an event's fields: identifiers become a short
// salted hash (stable while botwatch runs, useless to look a user up), text
// fields are dropped unless allowed, long strings are truncated, nested values
// are dropped.
class FeedRedactor {
 public:
  enum class Kind { kPlain, kIdentifier, kText };
  FeedRedactor(bool allow_text, uint64_t salt) : allow_text_(allow_text), salt_(salt) {}

  // Adds `name: value` to the object `out` as the feed may show it (or not at all).
  void Add(std::string_view name, const nlohmann::json& value, Kind kind, nlohmann::json& out) const;
  std::string Hash(std::string_view identifier) const;

  static constexpr size_t kMaxStringBytes = 200;

 private:
  bool allow_text_;
  uint64_t salt_;
};

class FeedHub {
 public:
  explicit FeedHub(FeedConfig config = {});
  ~FeedHub();
  FeedHub(const FeedHub&) = delete;
  FeedHub& operator=(const FeedHub&) = delete;

  // Whether an event at steady time `now_seconds` may be published: false past
  // max_events_per_second (counted in botwatch_feed_events_skipped_total), so
  // the caller skips building it. Lock-free; called for every feed event.
  bool Admit(double now_seconds);

  // Appends an event (fields already redacted) and wakes the clients. O(1),
  // never blocks on a client. Returns its id (1, 2, ...).
  uint64_t Publish(std::string_view type, std::string_view level, double unix_time, nlohmann::json fields);

  // GET /api/v1/feed: a stream response, or 503 when max_clients are connected.
  HttpResponse Serve(const HttpRequest& req);

  // Ends every stream promptly (before the web server stops) and refuses new ones.
  void Shutdown();

  // botwatch_feed_* self metrics.
  std::vector<Family> Expose() const;

  size_t clients() const;
  uint64_t last_id() const;
  const FeedConfig& config() const { return config_; }

 private:
  struct Frame {
    uint64_t id;
    std::string text;  // the complete SSE frame
  };
  class ClientSlot;
  struct Client;
  // One write the feed thread makes outside the lock; `end` ends the stream after it.
  struct Outgoing {
    std::shared_ptr<ResponseStream> out;
    std::string text;
    bool end;
  };
  using TimePoint = std::chrono::steady_clock::time_point;
  void Attach(std::shared_ptr<ResponseStream> out, std::shared_ptr<ClientSlot> slot, uint64_t cursor, bool resumed);
  void Pump();
  // The steps of Pump(), under mu_.
  TimePoint NextDue(TimePoint now) const;
  void PlanWrites(TimePoint now, std::vector<Outgoing>& writes, std::vector<std::unique_ptr<Client>>& done);
  bool PlanClient(Client& c, TimePoint now, std::vector<Outgoing>& writes);
  void Wake();

  const FeedConfig config_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::deque<Frame> ring_;
  std::vector<std::unique_ptr<Client>> clients_list_;  // under mu_
  bool wake_ = false;
  std::thread pump_;  // started with the first client
  uint64_t next_id_ = 1;
  size_t clients_ = 0;
  bool shutdown_ = false;
  double events_total_ = 0;
  std::atomic<int64_t> admit_second_{-1};
  std::atomic<int> admitted_in_second_{0};
  std::atomic<uint64_t> skipped_{0};
  double dropped_slow_ = 0;
  double rejected_ = 0;
  double disconnected_ = 0;
};

}  // namespace botwatch
