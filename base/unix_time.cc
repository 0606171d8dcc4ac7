#include "base/unix_time.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace botwatch {

double UnixNow() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

std::string Iso8601(double unix_seconds) {
  if (unix_seconds <= 0) return "";
  auto secs = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string Iso8601Millis(double unix_seconds) {
  auto secs = static_cast<std::time_t>(unix_seconds);
  int millis = std::clamp(static_cast<int>((unix_seconds - static_cast<double>(secs)) * 1000), 0, 999);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", millis);
  return buf;
}

}  // namespace botwatch
