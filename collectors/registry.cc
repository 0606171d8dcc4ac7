#include "collectors/registry.h"

#include <cstdio>
#include <cstdlib>

namespace botwatch {

CollectorRegistry& CollectorRegistry::Global() {
  static CollectorRegistry registry;  // built on first use, so static registrations can rely on it
  return registry;
}

bool CollectorRegistry::Register(const std::string& type, CollectorFactory factory,
                                 std::optional<Duration> default_interval) {
  if (!factories_.emplace(type, std::move(factory)).second) return false;
  if (default_interval) default_intervals_[type] = *default_interval;
  return true;
}

std::optional<Duration> CollectorRegistry::DefaultInterval(const std::string& type) const {
  auto it = default_intervals_.find(type);
  if (it == default_intervals_.end()) return std::nullopt;
  return it->second;
}

const CollectorFactory* CollectorRegistry::Find(const std::string& type) const {
  auto it = factories_.find(type);
  return it == factories_.end() ? nullptr : &it->second;
}

std::vector<std::string> CollectorRegistry::Types() const {
  std::vector<std::string> out;
  for (const auto& [type, factory] : factories_) out.push_back(type);
  return out;
}

detail::CollectorRegistration::CollectorRegistration(const char* type, CollectorFactory factory,
                                                     std::optional<Duration> default_interval) {
  if (!CollectorRegistry::Global().Register(type, std::move(factory), default_interval)) {
    // Two files claiming one type is a build mistake; fail loudly at start-up.
    std::fprintf(stderr, "botwatch: collector type \"%s\" registered twice\n", type);
    std::abort();
  }
}

namespace {
thread_local const CollectorConfigContext* current_context = nullptr;
}  // namespace

const CollectorConfigContext* CurrentCollectorConfigContext() { return current_context; }

ScopedCollectorConfigContext::ScopedCollectorConfigContext(const CollectorConfigContext& context)
    : previous_(current_context) {
  current_context = &context;
}

ScopedCollectorConfigContext::~ScopedCollectorConfigContext() { current_context = previous_; }

}  // namespace botwatch
