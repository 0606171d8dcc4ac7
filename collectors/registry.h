#pragma once

// Collector types register themselves here under their config `type:` string.
// Collector sources are linked as object files (never from a static archive), so
// a registration in a collector's own .cc file is always present: adding a type
// touches only its own files.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/config_node.h"
#include "collectors/collector.h"

namespace botwatch {

// Builds an instance from its YAML map. Reads only its own keys (the common
// ones are already consumed) and throws ConfigError on invalid input.
using CollectorFactory = std::function<std::unique_ptr<Collector>(const CollectorSpec& spec, ConfigMap& config)>;

class CollectorRegistry {
 public:
  static CollectorRegistry& Global();

  // Returns false if the type is already registered. `default_interval`, when
  // set, replaces global.default_interval for instances of this type that set no
  // `interval` of their own (for APIs whose quotas make frequent probes costly).
  bool Register(const std::string& type, CollectorFactory factory,
                std::optional<Duration> default_interval = std::nullopt);
  const CollectorFactory* Find(const std::string& type) const;
  std::optional<Duration> DefaultInterval(const std::string& type) const;
  std::vector<std::string> Types() const;

 private:
  std::map<std::string, CollectorFactory> factories_;
  std::map<std::string, Duration> default_intervals_;
};

// The whole config document being loaded, for the few types whose defaults
// come from other sections (`type: filesystem` watches state_dir and the log
// folders). Set by the config loader around the factory calls on its thread;
// nullptr anywhere else. Read it, never validate with it: each section
// reports its own errors.
struct CollectorConfigContext {
  YAML::Node document;
  const ConfigSource* source = nullptr;
};
const CollectorConfigContext* CurrentCollectorConfigContext();

class ScopedCollectorConfigContext {
 public:
  explicit ScopedCollectorConfigContext(const CollectorConfigContext& context);
  ~ScopedCollectorConfigContext();
  ScopedCollectorConfigContext(const ScopedCollectorConfigContext&) = delete;
  ScopedCollectorConfigContext& operator=(const ScopedCollectorConfigContext&) = delete;

 private:
  const CollectorConfigContext* previous_;
};

namespace detail {
struct CollectorRegistration {
  CollectorRegistration(const char* type, CollectorFactory factory,
                        std::optional<Duration> default_interval = std::nullopt);
};
}  // namespace detail

// The registration's name is unique per use (__COUNTER__), so collectors compiled
// into one translation unit (a unity build) do not collide.
#define BOTWATCH_REGISTRATION_NAME_(n) kBotwatchCollectorRegistration_##n
#define BOTWATCH_REGISTRATION_NAME(n) BOTWATCH_REGISTRATION_NAME_(n)
#define BOTWATCH_REGISTER_COLLECTOR(type, factory) \
  static const ::botwatch::detail::CollectorRegistration BOTWATCH_REGISTRATION_NAME(__COUNTER__) { type, factory }

// Same, with a type-specific default interval (see CollectorRegistry::Register).
#define BOTWATCH_REGISTER_COLLECTOR_WITH_INTERVAL(type, factory, interval)                         \
  static const ::botwatch::detail::CollectorRegistration BOTWATCH_REGISTRATION_NAME(__COUNTER__) { \
    type, factory, interval                                                                        \
  }

}  // namespace botwatch
