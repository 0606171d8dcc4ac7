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
#include "agent/exposition.h"
#include "agent/version.h"
#include "logs/log_config.h"
#include "logs/pipeline.h"

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

// Reads every configured log file from its beginning to its end and prints the
// log-derived metrics (for benchmarks, tests and trying rules on a file).
int LogsOneShot(const std::string& path) {
  auto config = botwatch::LoadConfigFile(path);
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", config.status().message().c_str());
    return 1;
  }
  botwatch::logs::LogPipeline pipeline(config.value()->logs);
  pipeline.RunOnce();
  std::string text = botwatch::SerializeFamilies(pipeline.Collect());
  std::fwrite(text.data(), 1, text.size(), stdout);
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

  botwatch::Agent agent({opts.config_file, opts.listen_address});
  if (botwatch::Status st = agent.Start(); !st.ok()) {
    botwatch::log::Error("cannot start", {{"err", st.message()}});
    return 1;
  }
  while (true) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      (void)agent.Reload();  // logs its own outcome
      continue;
    }
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

static int Main(int argc, char** argv) {
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
    case botwatch::CliOptions::Command::kLogsOneShot:
      return LogsOneShot(opts.config_file);
    case botwatch::CliOptions::Command::kServe:
      break;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
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
