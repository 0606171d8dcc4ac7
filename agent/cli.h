#pragma once

#include <string>
#include <vector>

#include "base/logging.h"
#include "base/status.h"
#include "supervise/supervisor.h"

namespace botwatch {

inline constexpr const char* kDefaultConfigFile = "/etc/botwatch/botwatch.yaml";
// 9100-9999 (Prometheus' exporter range) is fully allocated; 10117 was not in the
// default-port-allocations list when chosen.
inline constexpr const char* kDefaultListenAddress = ":10117";

struct CliOptions {
  enum class Command { kServe, kRun, kCheckConfig, kCheckConfigHelp, kLogsOneShot, kVersion, kHelp };
  Command command = Command::kServe;
  std::string config_file = kDefaultConfigFile;
  // --web.listen-address, once per address (the first one given replaces the default).
  std::vector<std::string> listen_addresses = {kDefaultListenAddress};
  std::string telemetry_path = "/metrics";
  std::string web_config_file;             // empty: plain HTTP without auth
  std::vector<std::string> allowed_hosts;  // --web.allowed-hosts (agent/host_check.h)
  logging::Level log_level = logging::Level::kInfo;
  logging::Format log_format = logging::Format::kLogfmt;
  bool skip_env = false;       // check-config --skip-env
  SuperviseOptions supervise;  // kRun: the command and its restart policy
};

// Parses argv (without argv[0]). Errors are one line suitable for stderr.
Result<CliOptions> ParseCli(const std::vector<std::string>& args);

// Every path botwatch serves, for --help and for the test that keeps the list
// and the router in step.
struct Endpoint {
  const char* path;
  const char* method;
  const char* what;
};
const std::vector<Endpoint>& Endpoints();
bool IsEndpointPath(const std::string& path);
std::string EndpointHelp();

std::string HelpText();
std::string CheckConfigHelpText();

}  // namespace botwatch
