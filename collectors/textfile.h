#pragma once

// `type: textfile`: node_exporter's textfile convention. Every `*.prom` file
// in a directory holds metrics in the Prometheus text format, written
// atomically by its producer (a cron job, a backup script: temp file, then
// rename), so a read sees the old file or the new one, never half of one.
// Each file is validated on its own: a bad file is an error for that file,
// the others are still exported.

#include <map>
#include <string>
#include <vector>

#include "collectors/collector.h"

namespace botwatch {

class ConfigMap;

struct TextFile {
  std::string name;  // base name: the `file` label
  double mtime_unix = 0;
  std::string content;
  std::string read_error;  // non-empty: could not be read
};

class TextfileCollector : public Collector {
 public:
  static std::unique_ptr<Collector> Create(const CollectorSpec& spec, ConfigMap& config);

  TextfileCollector(std::string directory, size_t max_file_bytes);
  ProbeResult Collect(const ProbeContext& ctx) override;

  // Turns the files read into up/down and families (pure, tested on its own).
  // `directory_error` non-empty: the directory itself could not be listed.
  ProbeResult Evaluate(const std::vector<TextFile>& files, const std::string& directory_error) const;

 private:
  std::string directory_;
  size_t max_file_bytes_;
};

}  // namespace botwatch
