#pragma once

// `type: tcp`: connects to host:port within the deadline and optionally sends a
// string and waits for a reply matching a regex (e.g. a Redis "PING" / "+PONG").

#include <optional>
#include <regex>
#include <string>

#include "collectors/collector.h"

namespace botwatch {

class ConfigMap;

class TcpCollector : public Collector {
 public:
  static std::unique_ptr<Collector> Create(const CollectorSpec& spec, ConfigMap& config);

  TcpCollector(std::string host, std::string port, std::string send, std::optional<std::string> expect);
  ProbeResult Collect(const ProbeContext& ctx) override;

 private:
  std::string host_;
  std::string port_;
  std::string send_;
  std::optional<std::string> expect_source_;
  std::optional<std::regex> expect_;
};

}  // namespace botwatch
