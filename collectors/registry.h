#pragma once

// Collector types register themselves here under their config `type:` string.
// Collector sources are linked as object files (never from a static archive), so
// a registration in a collector's own .cc file is always present: adding a type
// touches only its own files.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/config_node.h"
#include "collectors/collector.h"

namespace botwatch {

// Builds an instance from its YAML map. Reads only its own keys (the common
// ones are already consumed) and throws ConfigError on invalid input.
using CollectorFactory =
    std::function<std::unique_ptr<Collector>(const CollectorSpec& spec, ConfigMap& config)>;

class CollectorRegistry {
 public:
  static CollectorRegistry& Global();

  // Returns false if the type is already registered.
  bool Register(const std::string& type, CollectorFactory factory);
  const CollectorFactory* Find(const std::string& type) const;
  std::vector<std::string> Types() const;

 private:
  std::map<std::string, CollectorFactory> factories_;
};

namespace detail {
struct CollectorRegistration {
  CollectorRegistration(const char* type, CollectorFactory factory);
};
}  // namespace detail

#define BOTWATCH_REGISTER_COLLECTOR(type, factory) \
  static const ::botwatch::detail::CollectorRegistration kBotwatchCollectorRegistration_{type, factory}

}  // namespace botwatch
