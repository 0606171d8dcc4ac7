#include "base/duration.h"

#include <array>
#include <cstdint>
#include <limits>

namespace botwatch {
namespace {

struct Unit {
  std::string_view suffix;
  int64_t millis;
};

// Longest suffix first so that "ms" is not read as "m" followed by "s".
constexpr std::array<Unit, 7> kUnits = {{{"ms", 1},
                                         {"s", 1000},
                                         {"m", 60'000},
                                         {"h", 3'600'000},
                                         {"d", 86'400'000},
                                         {"w", 604'800'000},
                                         {"y", 31'536'000'000}}};

// Rank used to enforce decreasing order: y > w > d > h > m > s > ms.
int Rank(std::string_view suffix) {
  static constexpr std::array<std::string_view, 7> kOrder = {"ms", "s", "m", "h", "d", "w", "y"};
  for (size_t i = 0; i < kOrder.size(); ++i) {
    if (kOrder[i] == suffix) return static_cast<int>(i);
  }
  return -1;
}

Status Invalid(std::string_view text) {
  return Status::Error("invalid duration \"" + std::string(text) +
                       "\" (use a number and a unit, e.g. 500ms, 15s, 5m, 1h30m, 7d)");
}

}  // namespace

Result<Duration> ParseDuration(std::string_view text) {
  if (text == "0") return Duration::zero();
  if (text.empty()) return Invalid(text);
  int64_t total = 0;
  int last_rank = std::numeric_limits<int>::max();
  size_t i = 0;
  while (i < text.size()) {
    int64_t number = 0;
    size_t digits = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (number > (std::numeric_limits<int64_t>::max() - 9) / 10) return Invalid(text);
      number = number * 10 + (text[i] - '0');
      ++i;
      ++digits;
    }
    if (digits == 0) return Invalid(text);
    const Unit* unit = nullptr;
    for (const Unit& u : kUnits) {
      if (text.substr(i, u.suffix.size()) == u.suffix) {
        // "m" must not swallow the "m" of "ms".
        if (u.suffix == "m" && text.substr(i, 2) == "ms") continue;
        unit = &u;
        break;
      }
    }
    if (unit == nullptr) return Invalid(text);
    int rank = Rank(unit->suffix);
    if (rank >= last_rank) return Invalid(text);
    last_rank = rank;
    i += unit->suffix.size();
    if (number > std::numeric_limits<int64_t>::max() / unit->millis) return Invalid(text);
    int64_t add = number * unit->millis;
    if (total > std::numeric_limits<int64_t>::max() - add) return Invalid(text);
    total += add;
  }
  return Duration(total);
}

std::string FormatDuration(Duration d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  static constexpr std::array<Unit, 7> kDescending = {{{"y", 31'536'000'000},
                                                       {"w", 604'800'000},
                                                       {"d", 86'400'000},
                                                       {"h", 3'600'000},
                                                       {"m", 60'000},
                                                       {"s", 1000},
                                                       {"ms", 1}}};
  for (const Unit& u : kDescending) {
    if (ms >= u.millis) {
      out += std::to_string(ms / u.millis);
      out += u.suffix;
      ms %= u.millis;
    }
  }
  return out;
}

}  // namespace botwatch
