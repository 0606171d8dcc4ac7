#pragma once

// The running daemon: the current config, the scheduler probing collectors, the
// snapshot cache, and the HTTP endpoints that read it.

#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>

#include "agent/config.h"
#include "agent/exposition.h"
#include "agent/feed.h"
#include "agent/host_check.h"
#include "agent/scheduler.h"
#include "agent/snapshot_cache.h"
#include "agent/summary.h"
#include "collectors/lib/procfs.h"
#include "logs/current_pipeline.h"
#include "push/remote_writer.h"
#include "web/web_config.h"
#include "web/web_server.h"

namespace botwatch {

class Agent {
 public:
  struct Options {
    std::string config_file;
    std::vector<std::string> listen_addresses;
    std::string web_config_file;  // empty: plain HTTP, no auth
    // Collectors that are not probed on a schedule but report their state on
    // every read (supervise mode's child), listed before the configured ones in
    // /metrics, /api/v1/status and the summary. `snapshot` must answer from
    // memory (and /proc). Their names are taken: a config that gives a
    // collector one of them is rejected.
    struct LiveCollector {
      std::string name;
      std::function<std::shared_ptr<const CollectorSnapshot>()> snapshot;
    };
    std::vector<LiveCollector> live_collectors;
    std::string telemetry_path = "/metrics";  // --web.telemetry-path
    // --web.allowed-hosts: names (besides IP literals, localhost and the
    // listen addresses' names) the Host header may carry when there is no web
    // config (agent/host_check.h).
    std::vector<std::string> allowed_hosts;
  };

  explicit Agent(Options options);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Loads the config, binds the port and starts probing. Nothing runs on error.
  Status Start();
  // Validates the config file (and the web config) in full, then swaps it in; on
  // error the running config stays and botwatch_config_last_reload_successful
  // becomes 0. Users in the web config change on reload; TLS settings need a restart.
  Status Reload();
  // Stops probing (waits up to `grace` for running probes).
  void Stop(Duration grace);

  int port() const;
  // The live feed; null before Start().
  FeedHub* feed() { return feed_.get(); }

  // Runs `fn` with the current log pipeline (nullptr when no logs are
  // configured) while no reload can replace it, so lines that sources other
  // than files deliver (the child's output, HTTP intake) are never lost to a
  // reload. Any thread; `fn` must not reload.
  void WithLogs(const std::function<void(const std::shared_ptr<LogPipeline>&)>& fn);
  // WithLogs for those that ingest lines from outside (intake, supervised child).
  CurrentPipeline CurrentLogs() {
    return [this](const std::function<void(const std::shared_ptr<LogPipeline>&)>& fn) { WithLogs(fn); };
  }

  // Endpoint bodies, exposed for tests.
  std::string RenderMetrics() const;
  // Every family /metrics shows: the one source of /metrics and remote_write.
  Families Expose() const;
  std::string RenderStatusJson() const;
  bool Ready() const;

 private:
  HttpResponse Handle(const HttpRequest& req);
  // Live collectors first, then the configured ones in config order.
  std::vector<std::shared_ptr<const CollectorSnapshot>> Snapshots() const;
  Status CheckNames(const Config& config) const;
  void Install(std::shared_ptr<const Config> config);
  void RecordReload(bool ok);
  Result<std::shared_ptr<const WebConfig>> LoadWebConfig() const;
  void InstallAuth(const WebConfig& web_config);
  static std::shared_ptr<BasicAuth> MakeAuth(const WebConfig& web_config);
  // Log pipeline: replaced on reload with the old one's counts and positions
  // handed over; stopped (state saved) by Stop().
  void InstallLogs(const Config& config);
  std::shared_ptr<LogPipeline> Logs() const;
  // remote_write: replaced on reload (the disk queue carries over).
  void InstallRemoteWrite(const Config& config);
  void StopRemoteWrite();

  Options options_;
  HostAllowList hosts_;  // used only without a web config
  ProcFs procfs_;
  SnapshotCache cache_;
  std::shared_ptr<prometheus::Registry> self_registry_;
  prometheus::Gauge* reload_successful_;
  prometheus::Gauge* reload_success_timestamp_;

  std::mutex reload_mu_;  // one reload at a time (SIGHUP and POST /-/reload race)
  std::shared_ptr<const Config> config_;
  // The status page's links, copied at each install: status requests read
  // them while a reload swaps config_.
  mutable std::mutex links_mu_;
  LinksConfig links_;
  std::unique_ptr<Scheduler> scheduler_;
  std::atomic<bool> loaded_{false};
  SummaryBuilder summary_;
  double start_unix_ = 0;
  std::unique_ptr<FeedHub> feed_;  // before web_: its streams end before the server stops
  std::shared_ptr<const WebConfig> web_config_;
  std::unique_ptr<WebServer> web_;
  mutable std::mutex logs_mu_;  // guards the pointer only; scrapes read while a reload swaps
  std::shared_ptr<LogPipeline> logs_;
  mutable std::mutex writers_mu_;  // guards the list; writers lock themselves
  std::vector<std::unique_ptr<RemoteWriter>> writers_;
  std::shared_mutex feed_mu_;  // shared: a delivery to logs_ in progress; unique: InstallLogs
};

}  // namespace botwatch
