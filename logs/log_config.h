#pragma once

// The `logs:` section of the botwatch config (and the top-level `state_dir`),
// validated in full at load so a reload is all or nothing.

#include <memory>
#include <string>
#include <vector>

#include "base/config_node.h"
#include "base/duration.h"
#include "logs/rule_config.h"

namespace botwatch {

enum class Format { kJson, kLogfmt, kRegex };

// Where a source's lines come from: files it follows itself, the output of the
// child in supervise mode (`botwatch run`), or POST /api/v1/logs.
enum class SourceType { kFile, kChild, kHttp };

struct LogSourceConfig {
  std::string name;
  SourceType type = SourceType::kFile;
  std::vector<std::string> paths;  // file: globs, relative ones resolved against the config's directory
  bool child_stdout = true;        // child: which of the child's streams this source ingests
  bool child_stderr = true;
  size_t max_body_bytes = 1024 * 1024;  // http: larger request bodies get 413
  double rate_per_second = 20;          // http: token bucket of requests (429 past it)
  double rate_burst = 100;
  Format format = Format::kJson;
  std::string regex;                      // format: regex
  std::vector<std::string> regex_fields;  // names of its capture groups, in order
  bool start_at_end = true;
  size_t max_line_bytes = 64 * 1024;
  Duration poll_interval = std::chrono::milliseconds(250);
  std::shared_ptr<const RuleSet> rules;
};

struct LogsConfig {
  std::vector<LogSourceConfig> sources;
  std::vector<MetricDef> metrics;  // union over sources
  std::string state_dir;           // empty: positions and counts are kept in memory only
  Duration state_interval = std::chrono::seconds(5);
};

// Reads `logs`, `state_dir` and `state_interval` from the top-level map.
// Throws ConfigError (file:line:column) like the rest of config loading.
std::shared_ptr<const LogsConfig> ReadLogsConfig(ConfigMap& top);

}  // namespace botwatch
