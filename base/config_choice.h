#pragma once

// A config key whose value is one word out of a fixed list, mapped to an enum.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/config_node.h"

namespace botwatch {

// The value of `key` (or `def` when absent) looked up in `choices`; any other
// word is an error at the key listing the valid ones.
template <typename E>
E ConfigChoice(ConfigMap& config, std::string_view key, const std::string& def,
               const std::vector<std::pair<std::string, E>>& choices) {
  std::string value = config.String(key, def);
  std::string list;
  for (size_t i = 0; i < choices.size(); ++i) {
    if (choices[i].first == value) return choices[i].second;
    list += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + choices[i].first;
  }
  config.FailAt(key, "unknown " + std::string(key) + " \"" + value + "\" (use " + list + ")");
}

}  // namespace botwatch
