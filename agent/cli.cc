#include "agent/cli.h"

#include "agent/host_check.h"
#include "base/config_node.h"

namespace botwatch {
namespace {

const char* kCheckConfigUsage =
    "usage: botwatch check-config [--config.file=]PATH [--web.config.file=PATH] [--skip-env]";

// check-config [--config.file=]PATH [--web.config.file=PATH] [--skip-env] [--help];
// flags take "=VALUE" or the next argument, as in the daemon.
Result<CliOptions> ParseCheckConfig(const std::vector<std::string>& args) {
  CliOptions o;
  o.command = CliOptions::Command::kCheckConfig;
  bool have_path = false;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      o.command = CliOptions::Command::kCheckConfigHelp;
      return o;
    }
    if (a == "--skip-env") {
      o.skip_env = true;
      continue;
    }
    if (a.rfind("-", 0) != 0) {
      if (have_path)
        return Status::Error("check-config: more than one config file given; " + std::string(kCheckConfigUsage));
      o.config_file = a;
      have_path = true;
      continue;
    }
    size_t eq = a.find('=');
    std::string name = a.substr(0, eq);
    if (name != "--config.file" && name != "--web.config.file") {
      std::string msg = "check-config: unknown flag " + name;
      if (auto close = ClosestMatch(name, {"--config.file", "--web.config.file", "--skip-env", "--help"})) {
        msg += " (did you mean " + *close + "?)";
      }
      return Status::Error(msg + "; " + kCheckConfigUsage);
    }
    std::string value;
    if (eq != std::string::npos) {
      value = a.substr(eq + 1);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    }
    if (value.empty()) return Status::Error("check-config: flag " + name + " needs a path");
    if (name == "--web.config.file") {
      o.web_config_file = value;
    } else {
      if (have_path)
        return Status::Error("check-config: more than one config file given; " + std::string(kCheckConfigUsage));
      o.config_file = value;
      have_path = true;
    }
  }
  if (!have_path) return Status::Error(kCheckConfigUsage);
  return o;
}

}  // namespace

std::string CheckConfigHelpText() {
  return std::string(kCheckConfigUsage) +
         "\n"
         "\n"
         "Validates a config (and a web config) without starting anything and prints\n"
         "every error, one line each as file:line:column: field: message, sorted by\n"
         "position. Exit status 0 when valid, 1 otherwise.\n"
         "\n"
         "  --config.file=PATH      the config to check (or PATH as the argument)\n"
         "  --web.config.file=PATH  also check a web config (TLS, basic auth)\n"
         "  --skip-env              leave ${VAR} unexpanded: check the shape where the\n"
         "                          variables (secrets) exist only at run time, e.g. while\n"
         "                          building an image; fields that must parse as numbers,\n"
         "                          durations or URLs still need literal values\n";
}

const std::vector<Endpoint>& Endpoints() {
  static const std::vector<Endpoint> kEndpoints = {
      {"/metrics", "GET", "Prometheus text format (moved by --web.telemetry-path)"},
      {"/-/healthy", "GET",
       "200 while botwatch serves; ?require=NAME,... (or /-/healthy/NAME,...) also needs those collectors up"},
      {"/-/ready", "GET", "200 once every collector has probed once"},
      {"/-/reload", "POST", "reload the config"},
      {"/api/v1/status", "GET", "JSON per collector: up, reason, latency, last error"},
      {"/api/v1/summary", "GET", "the numbers bot admin UIs show (JSON)"},
      {"/api/v1/history", "GET", "inbound messages per minute over 24 h (JSON)"},
      {"/api/v1/feed", "GET", "Server-Sent Events of recent log events"},
      {"/api/v1/logs", "POST", "log lines for a `type: http` log source"},
      {"/", "GET", "the status page"},
  };
  return kEndpoints;
}

bool IsEndpointPath(const std::string& path) {
  for (const Endpoint& e : Endpoints()) {
    if (path != "/metrics" && e.path == path) return true;  // /metrics moves with --web.telemetry-path
  }
  return false;
}

std::string EndpointHelp() {
  std::string out;
  for (const Endpoint& e : Endpoints()) {
    std::string head = "  " + std::string(e.method) + " " + e.path;
    out += head + std::string(head.size() < 24 ? 24 - head.size() : 1, ' ') + e.what + "\n";
  }
  return out;
}

std::string HelpText() {
  return std::string(
             "usage: botwatch [flags]\n"
             "       botwatch run [flags] [supervise flags] -- COMMAND [ARGS...]\n"
             "       botwatch check-config [--config.file=]PATH [--web.config.file=PATH] [--skip-env]\n"
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
         "); repeat it to\n"
         "                               serve on several addresses\n"
         "  --web.telemetry-path=PATH    path of the metrics (default /metrics)\n"
         "  --web.config.file=PATH       TLS and basic auth (exporter-toolkit format); with\n"
         "                               users set, every path but /-/healthy needs auth\n"
         "  --web.allowed-hosts=NAMES    without --web.config.file, the data and reload paths\n"
         "                               answer only a Host that is an IP address, localhost,\n"
         "                               a listen address's name or one of these (comma-\n"
         "                               separated; others get 421: DNS rebinding guard)\n"
         "  --log.level=LEVEL            debug, info, warn or error (default info)\n"
         "  --log.format=FORMAT          logfmt or json (default logfmt)\n"
         "  --one-shot                   read the configured log files from start to end,\n"
         "                               print the log metrics and exit\n"
         "  --version                    print the version and exit\n"
         "  --help                       print this help and exit\n"
         "\n"
         "supervise mode (run): COMMAND runs as botwatch's child; its stdout/stderr pass\n"
         "through unchanged, SIGTERM/SIGINT are forwarded, botwatch exits with its code.\n"
         "  --supervise.restart=POLICY           never or on-failure (default never)\n"
         "  --supervise.restart-backoff=DUR      first restart delay, doubling (default 1s)\n"
         "  --supervise.restart-backoff-max=DUR  cap of the delay (default 30s)\n"
         "  --supervise.kill-timeout=DUR         SIGKILL if the child outlives SIGTERM this long (default 10s)\n"
         "  --supervise.name=NAME                collector label of its botwatch_process_* (default supervised)\n"
         "  --supervise.forward-sighup           also send SIGHUP to the child (default: SIGHUP only reloads\n"
         "                                       botwatch; Node.js exits on SIGHUP unless it handles it)\n"
         "\n"
         "\n"
         "endpoints:\n" +
         EndpointHelp() +
         "signals:   SIGHUP reloads the config; SIGTERM and SIGINT stop.\n"
         "systemd:   Type=notify is supported (READY, RELOADING, STOPPING, WATCHDOG).\n";
}

namespace {

// The options read so far.
struct CliParse {
  CliOptions options;
  bool listen_given = false;  // the first --web.listen-address replaces the default
  bool done = false;          // --help, --version: the rest is not read
};

// Applies one flag (`name` as given, `value` empty for a switch); an error ends parsing.
using FlagAction = Status (*)(const std::string& name, const std::string& value, CliParse& parse);

Status SetConfigFile(const std::string&, const std::string& value, CliParse& p) {
  p.options.config_file = value;
  return Status::Ok();
}

Status AddListenAddress(const std::string&, const std::string& value, CliParse& p) {
  if (!p.listen_given) p.options.listen_addresses.clear();
  p.listen_given = true;
  p.options.listen_addresses.push_back(value);
  return Status::Ok();
}

Status SetWebConfigFile(const std::string&, const std::string& value, CliParse& p) {
  if (value.empty()) return Status::Error("flag --web.config.file needs a path");
  p.options.web_config_file = value;
  return Status::Ok();
}

Status SetTelemetryPath(const std::string&, const std::string& value, CliParse& p) {
  if (value.empty() || value[0] != '/' || value.find_first_of("?# ") != std::string::npos) {
    return Status::Error("invalid --web.telemetry-path \"" + value + "\" (a path such as /metrics)");
  }
  if (IsEndpointPath(value)) {
    return Status::Error("--web.telemetry-path \"" + value + "\" is already an endpoint of botwatch");
  }
  p.options.telemetry_path = value;
  return Status::Ok();
}

// Comma-separated, and repeatable.
Status AddAllowedHosts(const std::string&, const std::string& value, CliParse& p) {
  size_t start = 0;
  while (start <= value.size()) {
    size_t comma = value.find(',', start);
    std::string host = value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (std::string why = AllowedHostProblem(host); !why.empty()) {
      return Status::Error("invalid --web.allowed-hosts entry \"" + host + "\": " + why);
    }
    p.options.allowed_hosts.push_back(host);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return Status::Ok();
}

Status SetLogLevel(const std::string&, const std::string& value, CliParse& p) {
  if (!logging::ParseLevel(value, &p.options.log_level)) {
    return Status::Error("invalid --log.level \"" + value + "\" (use debug, info, warn or error)");
  }
  return Status::Ok();
}

Status SetLogFormat(const std::string&, const std::string& value, CliParse& p) {
  if (!logging::ParseFormat(value, &p.options.log_format)) {
    return Status::Error("invalid --log.format \"" + value + "\" (use logfmt or json)");
  }
  return Status::Ok();
}

Status SetRestartPolicy(const std::string&, const std::string& value, CliParse& p) {
  if (value == "never") {
    p.options.supervise.restart = SuperviseOptions::Restart::kNever;
  } else if (value == "on-failure") {
    p.options.supervise.restart = SuperviseOptions::Restart::kOnFailure;
  } else {
    return Status::Error("invalid --supervise.restart \"" + value + "\" (use never or on-failure)");
  }
  return Status::Ok();
}

// --supervise.restart-backoff, --supervise.restart-backoff-max, --supervise.kill-timeout.
Status SetSuperviseDuration(const std::string& name, const std::string& value, CliParse& p) {
  Result<Duration> d = ParseDuration(value);
  if (!d.ok()) return Status::Error("invalid " + name + ": " + d.status().message());
  if (name == "--supervise.restart-backoff") p.options.supervise.backoff_initial = d.value();
  if (name == "--supervise.restart-backoff-max") p.options.supervise.backoff_max = d.value();
  if (name == "--supervise.kill-timeout") p.options.supervise.kill_timeout = d.value();
  return Status::Ok();
}

Status SetSuperviseName(const std::string&, const std::string& value, CliParse& p) {
  if (value.empty()) return Status::Error("flag --supervise.name needs a value");
  p.options.supervise.name = value;
  return Status::Ok();
}

Status ForwardSighup(const std::string&, const std::string&, CliParse& p) {
  p.options.supervise.forward_sighup = true;
  return Status::Ok();
}

Status ShowVersion(const std::string&, const std::string&, CliParse& p) {
  p.options.command = CliOptions::Command::kVersion;
  p.done = true;
  return Status::Ok();
}

Status OneShot(const std::string&, const std::string&, CliParse& p) {
  p.options.command = CliOptions::Command::kLogsOneShot;
  return Status::Ok();
}

Status ShowHelp(const std::string&, const std::string&, CliParse& p) {
  p.options.command = CliOptions::Command::kHelp;
  p.done = true;
  return Status::Ok();
}

struct CliFlag {
  const char* name;
  bool takes_value;  // "--name=VALUE" or "--name VALUE"; a switch is given alone
  bool run_only;     // only after `run`
  FlagAction apply;
};

// Every flag of the daemon and of `run`, in the order an unknown flag's
// suggestion is looked for.
constexpr CliFlag kFlags[] = {
    {"--config.file", true, false, SetConfigFile},
    {"--web.listen-address", true, false, AddListenAddress},
    {"--web.config.file", true, false, SetWebConfigFile},
    {"--web.telemetry-path", true, false, SetTelemetryPath},
    {"--web.allowed-hosts", true, false, AddAllowedHosts},
    {"--log.level", true, false, SetLogLevel},
    {"--log.format", true, false, SetLogFormat},
    {"--supervise.restart", true, true, SetRestartPolicy},
    {"--supervise.restart-backoff", true, true, SetSuperviseDuration},
    {"--supervise.restart-backoff-max", true, true, SetSuperviseDuration},
    {"--supervise.kill-timeout", true, true, SetSuperviseDuration},
    {"--supervise.name", true, true, SetSuperviseName},
    {"--supervise.forward-sighup", false, true, ForwardSighup},
    {"--version", false, false, ShowVersion},
    {"--one-shot", false, false, OneShot},
    {"--help", false, false, ShowHelp},
};

const CliFlag* FindFlag(const std::string& name, bool takes_value, bool run) {
  for (const CliFlag& f : kFlags) {
    if (f.takes_value == takes_value && (run || !f.run_only) && name == f.name) return &f;
  }
  return nullptr;
}

// The error for an argument that is no flag of this mode.
Status UnknownArgument(const std::string& arg, const std::string& name, bool run) {
  if (run && arg.rfind("-", 0) != 0) {
    return Status::Error("run: unexpected argument \"" + arg + "\"; put the command after --");
  }
  if (arg.rfind("-", 0) != 0) return Status::Error("unexpected argument \"" + arg + "\"; see botwatch --help");
  std::vector<std::string> all;
  for (const CliFlag& f : kFlags) {
    if (run || !f.run_only) all.push_back(f.name);
  }
  std::string msg = "unknown flag " + name;
  if (auto close = ClosestMatch(name, all)) msg += " (did you mean " + *close + "?)";
  return Status::Error(msg + "; see botwatch --help");
}

// `run ... -- COMMAND [ARGS...]`: what follows the -- at `i` is the command.
Result<CliOptions> TakeCommand(CliOptions o, const std::vector<std::string>& args, size_t i) {
  o.supervise.command.assign(args.begin() + static_cast<long>(i) + 1, args.end());
  if (o.supervise.command.empty()) return Status::Error("run: no command after --");
  if (o.supervise.backoff_max < o.supervise.backoff_initial) {
    return Status::Error("--supervise.restart-backoff-max is lower than --supervise.restart-backoff");
  }
  return o;
}

}  // namespace

Result<CliOptions> ParseCli(const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "check-config") return ParseCheckConfig(args);
  bool run = !args.empty() && args[0] == "run";
  CliParse p;
  if (run) p.options.command = CliOptions::Command::kRun;
  for (size_t i = run ? 1 : 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (run && a == "--") return TakeCommand(std::move(p.options), args, i);
    std::string name = a, value;
    const CliFlag* flag = FindFlag(a == "-h" ? "--help" : a, false, run);
    if (flag == nullptr) {
      size_t eq = a.find('=');
      name = a.substr(0, eq);
      flag = FindFlag(name, true, run);
      if (flag == nullptr) return UnknownArgument(a, name, run);
      if (eq != std::string::npos) {
        value = a.substr(eq + 1);
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return Status::Error("flag " + name + " needs a value");
      }
    }
    if (Status st = flag->apply(name, value, p); !st.ok()) return st;
    if (p.done) return p.options;
  }
  if (run) return Status::Error("run: missing -- COMMAND (e.g. botwatch run -- node src/index.js)");
  return p.options;
}

}  // namespace botwatch
