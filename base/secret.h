#pragma once

#include <ostream>
#include <string>

namespace botwatch {

// A credential read from the config (token, password, API key, DSN).
// It has no implicit conversion to string and prints as "<secret>", so it cannot
// slip into a log line, a metric label or an error message by accident; code that
// needs the value must call reveal() where it is handed to a library.
class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}

  const std::string& reveal() const { return value_; }
  bool empty() const { return value_.empty(); }

  friend std::ostream& operator<<(std::ostream& os, const Secret&) { return os << "<secret>"; }

 private:
  std::string value_;
};

}  // namespace botwatch
