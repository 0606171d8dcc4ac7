#pragma once

// Errors cross module boundaries as values. The one exception is reading
// config: every reader of a config section (a collector's factory, the logs,
// feed, remote_write and web sections) throws ConfigError from inside its YAML
// walk, and only the loaders catch it and return a Status (agent/config.cc for
// the config file, web/web_config.cc for the web config), so no ConfigError
// leaves a load.
// `Status` carries one human-readable line; `Result<T>` is a value or a Status.

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace botwatch {

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  static Status Ok() { return Status(); }
  static Status Error(std::string message) { return Status(std::move(message)); }

  bool ok() const { return !message_.has_value(); }
  // The one-line description of the error; empty when ok().
  const std::string& message() const {
    static const std::string kEmpty;
    return message_ ? *message_ : kEmpty;
  }

 private:
  explicit Status(std::string message) : message_(std::move(message)) {}
  std::optional<std::string> message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}       // NOLINT: implicit by design
  Result(Status error) : v_(std::move(error)) {}  // NOLINT: must not be ok()

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace botwatch
