#pragma once

// Which connections the web server holds, per client address, and which one
// goes when there are too many. Pure bookkeeping (no sockets, no clock of its
// own), used on the server's I/O thread only, tested alone.
//
// - One client over its own limit evicts its oldest connection that has not
//   completed a request (idle or slowloris); with none such it is refused: its
//   busy and kept-alive connections are its own business.
// - All clients over the total (the fd budget): the oldest connection that has
//   not completed a request goes, then the oldest idle kept-alive one, so a
//   legitimate scraper always gets in (connections already closing go before
//   all of these). Only when every connection is busy
//   (a request in flight) is a new one refused.

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace botwatch {

class ConnectionBook {
 public:
  enum class Phase {
    kFresh,    // no request completed yet: TLS handshake, first header or body
    kBusy,     // a request is being handled or answered, or a stream is open
    kIdle,     // kept alive between requests
    kClosing,  // answered, closing (a short linger): no longer its client's, and the first to go
  };
  enum class Why { kPerClient, kScarce };
  struct Eviction {
    uint64_t id;
    Why why;
  };
  struct Admission {
    bool admitted = false;
    std::vector<Eviction> evict;  // to close now, before the new one is served
  };

  ConnectionBook(size_t capacity, size_t per_client) : capacity_(capacity), per_client_(per_client) {}

  // A new connection `id` (ids increase with time) from `peer`. On admission it
  // is recorded as kFresh; the evicted ones are already forgotten.
  Admission Admit(uint64_t id, const std::string& peer);
  void SetPhase(uint64_t id, Phase phase);
  void Remove(uint64_t id);

  size_t size() const { return entries_.size(); }
  size_t capacity() const { return capacity_; }
  // More than half the capacity in use: idle connections get less time.
  bool Scarce() const { return entries_.size() * 2 > capacity_; }
  size_t OpenFrom(const std::string& peer) const;

 private:
  struct Entry {
    std::string peer;
    Phase phase;
    uint64_t idle_seq = 0;
  };
  struct Peer {
    size_t open = 0;
    std::set<uint64_t> fresh;
  };
  void Forget(uint64_t id);

  size_t capacity_;
  size_t per_client_;
  uint64_t next_idle_seq_ = 0;
  std::unordered_map<uint64_t, Entry> entries_;
  std::set<uint64_t> fresh_;  // by id: oldest first
  std::set<uint64_t> closing_;
  std::map<uint64_t, uint64_t> idle_;  // idle_seq -> id: longest idle first
  std::unordered_map<std::string, Peer> peers_;
};

}  // namespace botwatch
