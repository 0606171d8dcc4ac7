#include "logs/session_tracker.h"

#include <algorithm>

namespace botwatch::logs {

SessionTracker::Ended SessionTracker::End(Map::iterator it, bool evicted) {
  const Conversation& c = it->second;
  Ended e{std::max(0.0, c.last - c.first), c.messages, c.outcome, evicted};
  lru_.erase(c.pos);
  open_.erase(it);
  return e;
}

void SessionTracker::Note(std::string_view key, double time, bool message, int outcome, std::vector<Ended>& ended) {
  // Conversations quiet for the gap end first, so they are not taken for the
  // least recently active ones max_active would drop.
  Expire(time, ended);
  auto it = open_.find(key);
  if (it != open_.end() && time - it->second.last >= limits_.gap) {
    ended.push_back(End(it, /*evicted=*/false));
    it = open_.end();
  }
  if (it == open_.end()) {
    it = open_.try_emplace(std::string(key), Conversation{time, time, 0, -1, {}}).first;
    it->second.pos = lru_.insert(lru_.end(), &it->first);
  } else if (time > it->second.last) {
    it->second.last = time;
    lru_.splice(lru_.end(), lru_, it->second.pos);
  } else {
    // Out of order, by less than the gap: still this conversation.
    it->second.first = std::min(it->second.first, time);
  }
  Conversation& c = it->second;
  if (message) ++c.messages;
  if (outcome >= 0) c.outcome = outcome;
  Expire(time, ended);
}

void SessionTracker::Expire(double now, std::vector<Ended>& ended) {
  while (!lru_.empty()) {
    auto it = open_.find(*lru_.front());
    const bool over = open_.size() > limits_.max_active;
    if (!over && it->second.last + limits_.gap > now) break;
    ended.push_back(End(it, /*evicted=*/over));
  }
}

std::vector<SessionTracker::Open> SessionTracker::Save() const {
  std::vector<Open> out;
  out.reserve(open_.size());
  for (const std::string* key : lru_) {
    const Conversation& c = open_.find(*key)->second;
    out.push_back(Open{*key, c.first, c.last, c.messages, c.outcome});
  }
  return out;
}

void SessionTracker::Restore(const std::vector<Open>& open) {
  for (const Open& o : open) {
    auto [it, fresh] = open_.try_emplace(o.key, Conversation{o.first, o.last, o.messages, o.outcome, {}});
    if (!fresh) {
      // A key saved twice (a hand-edited file): the later entry wins.
      lru_.erase(it->second.pos);
      it->second = Conversation{o.first, o.last, o.messages, o.outcome, {}};
    }
    it->second.pos = lru_.insert(lru_.end(), &it->first);
  }
}

}  // namespace botwatch::logs
