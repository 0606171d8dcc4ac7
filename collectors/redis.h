#pragma once

// `type: redis`: health of one Redis server through hiredis (loaded on first
// use, collectors/lib/lazy_hiredis.cc) and the BullMQ queues it holds.
//
// Each probe opens one connection with the probe's remaining time as connect
// and socket timeout, so a server that accepts but never answers (stopped,
// overloaded) fails the probe at its deadline instead of holding a worker.
// Debian 12's hiredis 0.14 has no TLS: `rediss://` addresses are refused at
// load time.

#include <cstdint>
#include <optional>
#include <string>

#include "base/secret.h"
#include "collectors/collector.h"

namespace botwatch {

class ConfigMap;

struct RedisConfig {
  std::string host;
  int port = 6379;
  std::optional<std::string> username;  // ACL user (Redis 6+); needs a password
  std::optional<Secret> password;
  int64_t db = 0;
  std::string prefix = "bull";  // BullMQ's key prefix; "" turns queue discovery off
  int64_t max_queues = 50;
  int64_t max_repeatable = 20;  // per queue
};

class RedisCollector : public Collector {
 public:
  static std::unique_ptr<Collector> Create(const CollectorSpec& spec, ConfigMap& config);

  explicit RedisCollector(RedisConfig config) : config_(std::move(config)) {}
  ProbeResult Collect(const ProbeContext& ctx) override;

 private:
  RedisConfig config_;
};

}  // namespace botwatch
