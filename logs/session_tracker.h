#pragma once

// Conversations of a `type: session` rule: per key (a user), a run of events
// whose gaps are shorter than `gap`. The tracker only keeps time and counts;
// what a conversation's events mean (its outcome) is decided by the rule
// engine and handed in as a small integer.

#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace botwatch {

class SessionTracker {
 public:
  struct Limits {
    double gap = 1800;
    size_t max_active = 100000;
  };
  // A conversation that is over. `evicted` ones were cut short by max_active:
  // they are counted, not observed, so the histograms hold only real ends.
  struct Ended {
    double duration = 0;
    uint32_t messages = 0;
    int outcome = -1;  // -1: no event set one
    bool evicted = false;
  };
  // One open conversation, as saved in the state file.
  struct Open {
    std::string key;
    double first = 0, last = 0;
    uint32_t messages = 0;
    int outcome = -1;
  };

  explicit SessionTracker(Limits limits) : limits_(limits) {}

  // An event of `key` at event time `time`. It counts as a message when
  // `message` is set, and sets the outcome when `outcome` >= 0. An event a
  // gap or more after the key's last one ends that conversation (into
  // `ended`) and starts a new one.
  void Note(std::string_view key, double time, bool message, int outcome, std::vector<Ended>& ended);
  // Ends the conversations quiet for `gap` at event time `now`, and the least
  // recently active ones past max_active.
  void Expire(double now, std::vector<Ended>& ended);

  size_t active() const { return open_.size(); }
  void set_limits(Limits limits) { limits_ = limits; }
  // Least recently active first, so a restore rebuilds the same order.
  std::vector<Open> Save() const;
  void Restore(const std::vector<Open>& open);

 private:
  struct Conversation;
  // An entry of open_: unordered_map nodes never move, so lru_ points at them
  // and reaches the oldest conversation without hashing its key again.
  using Entry = std::pair<const std::string, Conversation>;
  struct Conversation {
    double first, last;
    uint32_t messages;
    int outcome;
    std::list<Entry*>::iterator pos;  // in lru_; both are erased together
  };
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  using Map = std::unordered_map<std::string, Conversation, StringHash, std::equal_to<>>;

  Ended End(Entry* e, bool evicted);
  void Track(Entry& e) { e.second.pos = lru_.insert(lru_.end(), &e); }

  Limits limits_;
  Map open_;
  // Least recently active at the front. Moved to the back only when `last`
  // moves forward, so it is in `last` order unless timestamps run backwards.
  std::list<Entry*> lru_;
};

}  // namespace botwatch
