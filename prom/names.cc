#include "prom/names.h"

#include <algorithm>

namespace botwatch {

bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }

bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }

bool IsValidMetricName(std::string_view name) {
  if (name.empty() || !(IsNameStart(name[0]) || name[0] == ':')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return IsNameChar(c) || c == ':'; });
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty() || !IsNameStart(name[0])) return false;
  return std::all_of(name.begin(), name.end(), IsNameChar);
}

bool IsReservedLabelName(std::string_view name) { return name.substr(0, 2) == "__"; }

bool IsValidUserLabelName(std::string_view name) { return IsValidLabelName(name) && !IsReservedLabelName(name); }

}  // namespace botwatch
