#pragma once

// The loaded, fully validated botwatch configuration. Loading builds every
// collector instance, so a Config that exists is one that can run: a reload
// swaps it in whole or not at all.

#include <memory>
#include <string>
#include <vector>

#include "agent/feed.h"
#include "base/config_node.h"
#include "base/duration.h"
#include "base/status.h"
#include "collectors/collector.h"
#include "push/remote_write_config.h"

namespace botwatch {
struct LogsConfig;

struct GlobalConfig {
  Duration default_interval = std::chrono::seconds(30);
  // Default per-probe timeout; a probe never runs longer than its interval either.
  Duration scrape_timeout = std::chrono::seconds(10);
  // Worker threads probing collectors. A hung probe holds one worker until its
  // deadline, so keep a few spare.
  int workers = 4;
};

struct CollectorInstance {
  CollectorSpec spec;
  std::shared_ptr<Collector> collector;
};

// Optional links from the status page to the operator's other tools.
struct LinksConfig {
  std::string grafana;       // a dashboard URL
  std::string alertmanager;  // Alertmanager's UI (firing alerts)
};

struct Config {
  std::string file;
  GlobalConfig global;
  std::vector<CollectorInstance> collectors;
  FeedConfig feed;  // the live feed; read at start-up only
  LinksConfig links;
  // The log pipeline's sources and rules (logs/log_config.h); never null.
  std::shared_ptr<const LogsConfig> logs;
  std::vector<RemoteWriteConfig> remote_write;
};

// Reads and validates `path`. Errors are one line: "file:line:col: field: message".
// The collector name `botwatch run` gives its child unless --supervise.name says
// otherwise; a configured collector may not take it.
inline constexpr const char* kSupervisedName = "supervised";

struct ConfigLoadOptions {
  bool skip_env = false;  // check-config --skip-env: leave ${VAR} unexpanded
};

// On error the status holds the first error by position (and how many more);
// `all_errors`, when given, receives every independent one, sorted.
Result<std::shared_ptr<const Config>> LoadConfigFile(const std::string& path, const ConfigLoadOptions& options = {},
                                                     std::vector<std::string>* all_errors = nullptr);
// Same, from text already in memory; `source` supplies the file name and env seam.
Result<std::shared_ptr<const Config>> LoadConfigText(const std::string& text, ConfigSource source,
                                                     std::vector<std::string>* all_errors = nullptr);

}  // namespace botwatch
