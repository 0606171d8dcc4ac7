#pragma once

// `type: filesystem`: size, free space and inodes of the filesystems holding
// botwatch's state_dir, the log sources' folders and any `paths:` (e.g.
// PostgreSQL's data directory), from statvfs(3) as node_exporter's
// node_filesystem_* families.
//
// statvfs on a hung network mount blocks in the kernel and cannot be
// cancelled. Each path is therefore stat'ed on a helper thread of its own and
// the probe waits only until its deadline; a path whose helper is still stuck
// gets no new helper until the old one returns, so a hung mount costs one
// thread, not one per probe.

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "collectors/collector.h"

namespace botwatch {

class ConfigMap;

// What one path's filesystem reports.
struct FilesystemStat {
  bool ok = false;
  std::string error;       // why not ok: one line, no secret (a path is not one)
  std::string mountpoint;  // where the filesystem holding the path is mounted
  double size_bytes = 0, avail_bytes = 0, files = 0, files_free = 0;
};

// The seam tests replace: stat one path (may block for as long as the kernel does).
using FilesystemStatFn = std::function<FilesystemStat(const std::string& path)>;

// The real one: realpath, statvfs, and the mount point from /proc/self/mountinfo.
FilesystemStat StatFilesystem(const std::string& path);

// The mount point of `resolved_path` (absolute, symlinks resolved) among the
// mount points listed in /proc/self/mountinfo text: the longest one that is
// the path itself or a folder above it. "/" when none matches.
std::string MountPointOf(const std::string& resolved_path, const std::string& mountinfo);

// The folder to watch for a log source's path: its directory part, cut before
// the first component holding a glob character ("/var/log/bot/*.log" and
// "/var/log/*/out.log" give "/var/log/bot" and "/var/log").
std::string LogFolderOf(const std::string& path);

class FilesystemCollector : public Collector {
 public:
  static std::unique_ptr<Collector> Create(const CollectorSpec& spec, ConfigMap& config);

  FilesystemCollector(std::vector<std::string> paths, FilesystemStatFn stat = &StatFilesystem);
  ProbeResult Collect(const ProbeContext& ctx) override;

  const std::vector<std::string>& paths() const { return paths_; }

 private:
  // One helper thread's answer, shared with the (detached) helper, which may
  // outlive this collector.
  struct Pending {
    std::mutex mu;
    std::condition_variable done_cv;
    bool done = false;
    FilesystemStat stat;
  };

  std::vector<std::string> paths_;
  FilesystemStatFn stat_;
  // Helpers not yet returned, by path; a path here gets no new helper.
  std::map<std::string, std::shared_ptr<Pending>> in_flight_;
};

}  // namespace botwatch
