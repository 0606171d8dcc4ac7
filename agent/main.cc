// botwatch entry point: parse flags, then either check a config or run the
// daemon until SIGTERM/SIGINT, reloading on SIGHUP.

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>

#include "agent/agent.h"
#include "agent/cli.h"
#include "agent/config.h"
#include "agent/exposition.h"
#include "agent/systemd_notify.h"
#include "agent/version.h"
#include "base/child_reaper.h"
#include "base/logging.h"
#include "logs/log_config.h"
#include "logs/pipeline.h"
#include "prom/text_writer.h"
#include "supervise/child_output_lines.h"
#include "supervise/supervisor.h"
#include "web/web_config.h"

namespace {

// Prints every error of both files (one line each) and the OK lines only when
// both are valid: a bad web config never follows an "OK".
int CheckConfig(const botwatch::CliOptions& opts) {
  std::vector<std::string> errors;
  botwatch::ConfigLoadOptions load;
  load.skip_env = opts.skip_env;
  auto config = botwatch::LoadConfigFile(opts.config_file, load, &errors);
  // A file that cannot be read has one error and no list.
  if (!config.ok() && errors.empty()) errors.push_back(config.status().message());
  std::shared_ptr<const botwatch::WebConfig> web;
  if (!opts.web_config_file.empty()) {
    auto w = botwatch::LoadWebConfigFile(opts.web_config_file);
    if (w.ok()) {
      web = w.value();
    } else {
      errors.push_back(w.status().message());
    }
  }
  if (!errors.empty()) {
    for (const std::string& e : errors) std::fprintf(stderr, "%s\n", e.c_str());
    if (errors.size() > 1) std::fprintf(stderr, "%zu errors\n", errors.size());
    return 1;
  }
  std::printf("%s: OK (%zu collectors)%s\n", opts.config_file.c_str(), config.value()->collectors.size(),
              opts.skip_env ? " (environment variables not expanded)" : "");
  if (web) {
    std::printf("%s: OK (%s, %zu basic auth users)\n", opts.web_config_file.c_str(), web->tls ? "TLS" : "no TLS",
                web->basic_auth_users.size());
  }
  return 0;
}

// Reads every configured log file from its beginning to its end and prints the
// log-derived metrics (for benchmarks, tests and trying rules on a file).
int LogsOneShot(const std::string& path) {
  auto config = botwatch::LoadConfigFile(path);
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", config.status().message().c_str());
    return 1;
  }
  botwatch::LogPipeline pipeline(config.value()->logs);
  pipeline.RunOnce();
  std::string text = botwatch::SerializeFamilies(pipeline.Expose());
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}

// Signals are taken synchronously by the main thread only; every thread
// started later inherits the mask (the supervised child gets a clean one).
sigset_t BlockSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  return signals;
}

// In supervise mode the child is a `process` collector of its own, read
// through `child` (set before the first scrape).
botwatch::Agent::Options AgentOptions(const botwatch::CliOptions& opts,
                                      const std::unique_ptr<botwatch::Supervisor>& child) {
  botwatch::Agent::Options agent_options;
  agent_options.config_file = opts.config_file;
  agent_options.listen_addresses = opts.listen_addresses;
  agent_options.web_config_file = opts.web_config_file;
  agent_options.telemetry_path = opts.telemetry_path;
  agent_options.allowed_hosts = opts.allowed_hosts;
  if (opts.command == botwatch::CliOptions::Command::kRun) {
    agent_options.live_collectors.push_back({opts.supervise.name, [&child] { return child->Snapshot(); }});
  }
  return agent_options;
}

// Starts the agent, then the child; false when the agent cannot start.
bool StartAgentAndChild(botwatch::Agent& agent, botwatch::Supervisor* child) {
  if (botwatch::Status st = agent.Start(); !st.ok()) {
    botwatch::logging::Error("cannot start", {{"err", st.message()}});
    return false;
  }
  if (child) {
    if (botwatch::Status st = child->Start(); !st.ok()) {
      botwatch::logging::Error("cannot start the child", {{"err", st.message()}});
      std::fflush(nullptr);
      ::_exit(127);  // as a shell does for a command it cannot run
    }
  }
  return true;
}

// The main thread while serving: signals, the systemd watchdog (if the main
// thread wedges, systemd restarts us), reaping orphans, and in supervise mode
// noticing that the child is done.
class ServeLoop {
 public:
  ServeLoop(const botwatch::CliOptions& opts, const sigset_t& signals, botwatch::Agent& agent,
            botwatch::Supervisor* child, bool reap_orphans)
      : opts_(opts), signals_(signals), agent_(agent), child_(child), reap_orphans_(reap_orphans) {}

  // Returns the exit code: the child's in supervise mode, else 0.
  int Run() {
    while (true) {
      ReapOrphansIfDue();
      if (ChildDone()) break;
      auto now = Clock::now();
      if (ping_ && now >= next_ping_) {
        botwatch::systemd::NotifyWatchdog();
        next_ping_ = now + *ping_;
      }
      std::chrono::nanoseconds wait = NextWait(now);
      timespec ts{static_cast<time_t>(wait.count() / 1000000000), static_cast<long>(wait.count() % 1000000000)};
      int sig = sigtimedwait(&signals_, nullptr, &ts);
      if (sig < 0) continue;  // timeout (EAGAIN) or EINTR
      if (HandleSignal(sig)) break;
    }
    return exit_code_;
  }

 private:
  using Clock = std::chrono::steady_clock;
  static constexpr auto kReapEvery = std::chrono::milliseconds(200);

  void ReapOrphansIfDue() {
    if (reap_orphans_ && Clock::now() >= next_reap_) {
      botwatch::child_reaper::ReapUnclaimed();
      next_reap_ = Clock::now() + kReapEvery;
    }
  }

  bool ChildDone() {
    if (!child_ || !child_->Done()) return false;
    exit_code_ = child_->ExitCode();
    if (!stopping_) botwatch::systemd::NotifyStopping();
    botwatch::logging::Info("child done; shutting down", {{"exit_code", std::to_string(exit_code_)}});
    return true;
  }

  std::chrono::nanoseconds NextWait(Clock::time_point now) const {
    std::chrono::nanoseconds wait = std::chrono::hours(1);
    if (ping_) wait = next_ping_ - now;
    if (child_) wait = std::min<std::chrono::nanoseconds>(wait, std::chrono::milliseconds(20));
    if (reap_orphans_) wait = std::min<std::chrono::nanoseconds>(wait, kReapEvery);
    return wait;
  }

  // True when botwatch stops now.
  bool HandleSignal(int sig) {
    if (child_ && (sig != SIGHUP || opts_.supervise.forward_sighup)) child_->Signal(sig);
    if (sig == SIGHUP) {
      botwatch::systemd::NotifyReloading();
      (void)agent_.Reload();  // logs its own outcome; a failed reload keeps serving
      botwatch::systemd::NotifyReady();
      return false;
    }
    const char* name = sig == SIGTERM ? "SIGTERM" : "SIGINT";
    if (child_) {
      // Keep serving until the child has gone (Supervisor kills it after the grace).
      if (!stopping_) {
        botwatch::systemd::NotifyStopping();
        botwatch::logging::Info("stopping the child", {{"signal", name}});
      }
      stopping_ = true;
      return false;
    }
    botwatch::systemd::NotifyStopping();
    botwatch::logging::Info("shutting down", {{"signal", name}});
    return true;
  }

  const botwatch::CliOptions& opts_;
  sigset_t signals_;
  botwatch::Agent& agent_;
  botwatch::Supervisor* const child_;
  const bool reap_orphans_;
  const std::optional<std::chrono::milliseconds> ping_ = botwatch::systemd::WatchdogPingInterval();
  Clock::time_point next_ping_ = Clock::now();
  Clock::time_point next_reap_ = Clock::now();
  bool stopping_ = false;
  int exit_code_ = 0;
};

// Serves until SIGTERM/SIGINT; in supervise mode (`run`) until the child is
// done, and then exits with the child's code.
int Serve(const botwatch::CliOptions& opts) {
  sigset_t signals = BlockSignals();
  const bool supervise = opts.command == botwatch::CliOptions::Command::kRun;
  std::unique_ptr<botwatch::Supervisor> child;
  botwatch::Agent::Options agent_options = AgentOptions(opts, child);
  // The bot's detached descendants (Node's spawn({detached: true}), setsid)
  // come to botwatch when their parent exits, not to init: reaped below, as
  // they are when botwatch is PID 1 of a container without an init.
  if (supervise && !botwatch::child_reaper::BecomeSubreaper()) {
    botwatch::logging::Warn("cannot become the child subreaper; the bot's orphans go to init");
  }
  const bool reap_orphans = botwatch::child_reaper::InheritsOrphans();
  botwatch::Agent agent(agent_options);
  // The child's output is also ingested by the `type: child` log sources.
  botwatch::ChildOutputLines child_logs(agent.CurrentLogs());
  if (supervise) child = std::make_unique<botwatch::Supervisor>(opts.supervise, &child_logs);
  if (!StartAgentAndChild(agent, child.get())) return 1;
  botwatch::systemd::NotifyReady("serving on port " + std::to_string(agent.port()));
  int exit_code = ServeLoop(opts, signals, agent, child.get(), reap_orphans).Run();
  agent.Stop(std::chrono::seconds(1));
  botwatch::logging::Info("shutdown complete");
  std::fflush(nullptr);
  // Nothing is left to flush: leave without running destructors (a request
  // still on a worker, e.g. a reload, need not be waited for).
  ::_exit(exit_code);
}

}  // namespace

static int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto parsed = botwatch::ParseCli(args);
  if (!parsed.ok()) {
    std::fprintf(stderr, "botwatch: %s\n", parsed.status().message().c_str());
    return 2;
  }
  const botwatch::CliOptions& opts = parsed.value();
  botwatch::logging::Configure(opts.log_level, opts.log_format);
  switch (opts.command) {
    case botwatch::CliOptions::Command::kHelp:
      std::cout << botwatch::HelpText();
      return 0;
    case botwatch::CliOptions::Command::kVersion:
      std::printf("botwatch %s (revision %s)\n", botwatch::kVersion, botwatch::kRevision);
      return 0;
    case botwatch::CliOptions::Command::kCheckConfig:
      return CheckConfig(opts);
    case botwatch::CliOptions::Command::kCheckConfigHelp:
      std::fputs(botwatch::CheckConfigHelpText().c_str(), stdout);
      return 0;
    case botwatch::CliOptions::Command::kLogsOneShot:
      return LogsOneShot(opts.config_file);
    case botwatch::CliOptions::Command::kServe:
    case botwatch::CliOptions::Command::kRun:
      break;
  }
  return Serve(opts);
}

int main(int argc, char** argv) {
  // Last line of defence: whatever escapes is one line on stderr, not a core dump.
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "botwatch: fatal: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "botwatch: fatal: unknown error\n");
  }
  return 1;
}
