#include "agent/cli.h"

#include "agent/config_node.h"

namespace botwatch {
namespace {

const std::vector<std::string> kValueFlags = {"--config.file", "--web.listen-address", "--log.level",
                                              "--log.format"};

}  // namespace

std::string HelpText() {
  return std::string(
             "usage: botwatch [flags]\n"
             "       botwatch check-config PATH\n"
             "       botwatch --one-shot [--config.file=PATH]\n"
             "\n"
             "Probes a chatbot's dependencies and serves Prometheus metrics.\n"
             "\n"
             "flags:\n"
             "  --config.file=PATH           config file (default ") +
         kDefaultConfigFile +
         ")\n"
         "  --web.listen-address=ADDR    address to serve on (default " +
         kDefaultListenAddress +
         ")\n"
         "  --log.level=LEVEL            debug, info, warn or error (default info)\n"
         "  --log.format=FORMAT          logfmt or json (default logfmt)\n"
         "  --one-shot                   read the configured log files from start to end,\n"
         "                               print the log metrics and exit\n"
         "  --version                    print the version and exit\n"
         "  --help                       print this help and exit\n"
         "\n"
         "endpoints: /metrics /-/healthy /-/ready POST /-/reload /api/v1/status /\n"
         "signals:   SIGHUP reloads the config; SIGTERM and SIGINT stop.\n";
}

Result<CliOptions> ParseCli(const std::vector<std::string>& args) {
  CliOptions o;
  size_t i = 0;
  if (!args.empty() && args[0] == "check-config") {
    if (args.size() != 2) return Status::Error("usage: botwatch check-config PATH");
    o.command = CliOptions::Command::kCheckConfig;
    o.config_file = args[1];
    return o;
  }
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      o.command = CliOptions::Command::kHelp;
      return o;
    }
    if (a == "--version") {
      o.command = CliOptions::Command::kVersion;
      return o;
    }
    if (a == "--one-shot") {
      o.command = CliOptions::Command::kLogsOneShot;
      continue;
    }
    std::string name = a, value;
    bool has_value = false;
    size_t eq = a.find('=');
    if (eq != std::string::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      has_value = true;
    }
    bool known = false;
    for (const auto& f : kValueFlags) known = known || f == name;
    if (!known) {
      if (a.rfind("-", 0) != 0) return Status::Error("unexpected argument \"" + a + "\"; see botwatch --help");
      std::vector<std::string> all = kValueFlags;
      all.push_back("--version");
      all.push_back("--one-shot");
      all.push_back("--help");
      std::string msg = "unknown flag " + name;
      if (auto close = ClosestMatch(name, all)) msg += " (did you mean " + *close + "?)";
      return Status::Error(msg + "; see botwatch --help");
    }
    if (!has_value) {
      if (i + 1 >= args.size()) return Status::Error("flag " + name + " needs a value");
      value = args[++i];
    }
    if (name == "--config.file") {
      o.config_file = value;
    } else if (name == "--web.listen-address") {
      o.listen_address = value;
    } else if (name == "--log.level") {
      if (!log::ParseLevel(value, &o.log_level)) {
        return Status::Error("invalid --log.level \"" + value + "\" (use debug, info, warn or error)");
      }
    } else if (name == "--log.format") {
      if (!log::ParseFormat(value, &o.log_format)) {
        return Status::Error("invalid --log.format \"" + value + "\" (use logfmt or json)");
      }
    }
  }
  return o;
}

}  // namespace botwatch
