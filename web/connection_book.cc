#include "web/connection_book.h"

namespace botwatch {

ConnectionBook::Admission ConnectionBook::Admit(uint64_t id, const std::string& peer) {
  Admission a;
  auto p = peers_.find(peer);
  if (p != peers_.end() && p->second.open >= per_client_) {
    if (p->second.fresh.empty()) return a;
    uint64_t victim = *p->second.fresh.begin();
    a.evict.push_back({victim, Why::kPerClient});
    Forget(victim);
  }
  if (entries_.size() >= capacity_) {
    uint64_t victim = 0;
    if (!closing_.empty()) {
      victim = *closing_.begin();
    } else if (!fresh_.empty()) {
      victim = *fresh_.begin();
    } else if (!idle_.empty()) {
      victim = idle_.begin()->second;
    } else {
      return a;  // every connection has a request in flight
    }
    a.evict.push_back({victim, Why::kScarce});
    Forget(victim);
  }
  entries_[id] = Entry{peer, Phase::kFresh};
  fresh_.insert(id);
  Peer& mine = peers_[peer];
  ++mine.open;
  mine.fresh.insert(id);
  a.admitted = true;
  return a;
}

void ConnectionBook::SetPhase(uint64_t id, Phase phase) {
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.phase == phase) return;
  Entry& e = it->second;
  if (e.phase == Phase::kClosing) return;  // for good
  if (e.phase == Phase::kFresh) {
    fresh_.erase(id);
    peers_[e.peer].fresh.erase(id);
  } else if (e.phase == Phase::kIdle) {
    idle_.erase(e.idle_seq);
  }
  if (phase == Phase::kClosing) {
    closing_.insert(id);
    auto p = peers_.find(e.peer);
    if (p != peers_.end() && --p->second.open == 0) peers_.erase(p);
  } else if (phase == Phase::kIdle) {
    e.idle_seq = next_idle_seq_++;
    idle_[e.idle_seq] = id;
  } else if (phase == Phase::kFresh) {
    fresh_.insert(id);
    peers_[e.peer].fresh.insert(id);
  }
  e.phase = phase;
}

void ConnectionBook::Remove(uint64_t id) { Forget(id); }

void ConnectionBook::Forget(uint64_t id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  Entry& e = it->second;
  if (e.phase == Phase::kClosing) {
    closing_.erase(id);
    entries_.erase(it);
    return;
  }
  auto p = peers_.find(e.peer);
  if (e.phase == Phase::kFresh) {
    fresh_.erase(id);
    if (p != peers_.end()) p->second.fresh.erase(id);
  } else if (e.phase == Phase::kIdle) {
    idle_.erase(e.idle_seq);
  }
  if (p != peers_.end() && --p->second.open == 0) peers_.erase(p);
  entries_.erase(it);
}

size_t ConnectionBook::OpenFrom(const std::string& peer) const {
  auto p = peers_.find(peer);
  return p == peers_.end() ? 0 : p->second.open;
}

}  // namespace botwatch
