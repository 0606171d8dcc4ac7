#pragma once

// Prometheus' rules for metric and label names, the one place botwatch checks
// them: config readers (log rules, remote_write's external labels) refuse a bad
// name at load time, and the text-format parser refuses one in what a producer
// wrote, so nothing invalid ever reaches /metrics or a remote.

#include <string_view>

namespace botwatch {

// A letter or '_': what a label name starts with (a metric name may also start with ':').
bool IsNameStart(char c);
// A letter, a digit or '_'.
bool IsNameChar(char c);

// [a-zA-Z_:][a-zA-Z0-9_:]*
bool IsValidMetricName(std::string_view name);
// [a-zA-Z_][a-zA-Z0-9_]*
bool IsValidLabelName(std::string_view name);
// Starts with "__": Prometheus' own labels (__name__, ...), never a user's.
bool IsReservedLabelName(std::string_view name);
// A name a user may give a label: valid and not reserved.
bool IsValidUserLabelName(std::string_view name);

}  // namespace botwatch
