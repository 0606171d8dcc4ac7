#include "logs/session_tracker.h"

#include <algorithm>

namespace botwatch {

SessionTracker::Ended SessionTracker::End(Entry* e, bool evicted) {
  const Conversation& c = e->second;
  Ended out{std::max(0.0, c.last - c.first), c.messages, c.outcome, evicted};
  lru_.erase(c.pos);
  open_.erase(e->first);
  return out;
}

void SessionTracker::Note(std::string_view key, double time, bool message, int outcome, std::vector<Ended>& ended) {
  // Conversations quiet for the gap end first, so they are not taken for the
  // least recently active ones max_active would drop.
  Expire(time, ended);
  auto it = open_.find(key);
  const bool fresh = it == open_.end();
  if (fresh) it = open_.emplace(std::string(key), Conversation{time, time, 0, -1, {}}).first;
  Entry& e = *it;
  Conversation& c = e.second;
  if (!fresh && time - c.last >= limits_.gap) {
    // The same user after a gap the event clock has not reached yet (a late
    // line of another source moved it less): that conversation is over.
    ended.push_back(Ended{std::max(0.0, c.last - c.first), c.messages, c.outcome, false});
    c = Conversation{time, time, 0, -1, c.pos};
    lru_.splice(lru_.end(), lru_, c.pos);
  } else if (fresh) {
    Track(e);
  } else if (time > c.last) {
    c.last = time;
    lru_.splice(lru_.end(), lru_, c.pos);
  } else {
    // Out of order, by less than the gap: still this conversation.
    c.first = std::min(c.first, time);
  }
  if (message) ++c.messages;
  if (outcome >= 0) c.outcome = outcome;
  if (open_.size() > limits_.max_active) ended.push_back(End(lru_.front(), /*evicted=*/true));
}

void SessionTracker::Expire(double now, std::vector<Ended>& ended) {
  while (!lru_.empty()) {
    Entry* oldest = lru_.front();
    const bool over = open_.size() > limits_.max_active;
    if (!over && oldest->second.last + limits_.gap > now) break;
    ended.push_back(End(oldest, /*evicted=*/over));
  }
}

std::vector<SessionTracker::Open> SessionTracker::Save() const {
  std::vector<Open> out;
  out.reserve(open_.size());
  for (const Entry* e : lru_) {
    const Conversation& c = e->second;
    out.push_back(Open{e->first, c.first, c.last, c.messages, c.outcome});
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
    Track(*it);
  }
}

}  // namespace botwatch
