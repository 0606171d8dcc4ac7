// botwatch entry point: parse flags, then either check a config or run the
// daemon until SIGTERM/SIGINT, reloading on SIGHUP.

#include <curl/curl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "agent/agent.h"
#include "agent/cli.h"
#include "agent/config.h"
#include "agent/log.h"
#include "agent/systemd_notify.h"
#include "agent/version.h"

namespace {

int CheckConfig(const std::string& path) {
  auto config = botwatch::LoadConfigFile(path);
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", config.status().message().c_str());
    return 1;
  }
  std::printf("%s: OK (%zu collectors)\n", path.c_str(), config.value()->collectors.size());
  return 0;
}

int Serve(const botwatch::CliOptions& opts) {
  // Signals are taken synchronously by this thread only; every thread started
  // later inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  namespace systemd = botwatch::systemd;
  botwatch::Agent agent({opts.config_file, opts.listen_address, opts.web_config_file});
  if (botwatch::Status st = agent.Start(); !st.ok()) {
    botwatch::log::Error("cannot start", {{"err", st.message()}});
    return 1;
  }
  systemd::NotifyReady("serving on port " + std::to_string(agent.port()));
  // The watchdog is pinged from this loop: if the main thread wedges, systemd
  // restarts us.
  const std::optional<std::chrono::milliseconds> ping = systemd::WatchdogPingInterval();
  auto next_ping = std::chrono::steady_clock::now();
  while (true) {
    int sig = 0;
    if (ping) {
      auto now = std::chrono::steady_clock::now();
      if (now >= next_ping) {
        systemd::NotifyWatchdog();
        next_ping = now + *ping;
      }
      auto wait = std::chrono::duration_cast<std::chrono::nanoseconds>(next_ping - now);
      timespec ts{static_cast<time_t>(wait.count() / 1000000000), static_cast<long>(wait.count() % 1000000000)};
      sig = sigtimedwait(&signals, nullptr, &ts);
      if (sig < 0) continue;  // timeout (EAGAIN) or EINTR
    } else if (sigwait(&signals, &sig) != 0) {
      continue;
    }
    if (sig == SIGHUP) {
      systemd::NotifyReloading();
      (void)agent.Reload();  // logs its own outcome; a failed reload keeps serving
      systemd::NotifyReady();
      continue;
    }
    systemd::NotifyStopping();
    botwatch::log::Info("shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    agent.Stop(std::chrono::seconds(1));
    botwatch::log::Info("shutdown complete");
    std::fflush(nullptr);
    // Stopping civetweb blocks for up to ~2 s on its poll interval; nothing is
    // left to flush, so leave without running destructors.
    ::_exit(0);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto parsed = botwatch::ParseCli(args);
  if (!parsed.ok()) {
    std::fprintf(stderr, "botwatch: %s\n", parsed.status().message().c_str());
    return 2;
  }
  const botwatch::CliOptions& opts = parsed.value();
  botwatch::log::Configure(opts.log_level, opts.log_format);
  switch (opts.command) {
    case botwatch::CliOptions::Command::kHelp:
      std::cout << botwatch::HelpText();
      return 0;
    case botwatch::CliOptions::Command::kVersion:
      std::printf("botwatch %s (revision %s)\n", botwatch::kVersion, botwatch::kRevision);
      return 0;
    case botwatch::CliOptions::Command::kCheckConfig:
      return CheckConfig(opts.config_file);
    case botwatch::CliOptions::Command::kServe:
      break;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  return Serve(opts);
}
