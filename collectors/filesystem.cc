#include "collectors/filesystem.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>
#include <thread>

#include "base/config_node.h"
#include "collectors/registry.h"

namespace botwatch {

BOTWATCH_REGISTER_COLLECTOR("filesystem", FilesystemCollector::Create);

namespace {

std::string ResolvePath(const std::string& path, const ConfigSource& src) {
  if (path.empty() || path[0] == '/' || src.dir.empty()) return path;
  return src.dir + "/" + path;
}

// The folders botwatch itself writes to or reads from: state_dir (or systemd's
// STATE_DIRECTORY, as the log pipeline reads it) and each file log source's
// folder. Read from the whole document; the logs section validates them and
// reports their errors, so a malformed one is skipped here.
std::vector<std::string> DefaultPaths() {
  std::vector<std::string> out;
  const CollectorConfigContext* context = CurrentCollectorConfigContext();
  if (context == nullptr || context->source == nullptr || !context->document.IsMap()) return out;
  const ConfigSource& source = *context->source;
  const YAML::Node& document = context->document;
  // Non-owning: the ConfigMaps below live only within this call.
  std::shared_ptr<const ConfigSource> src(std::shared_ptr<const ConfigSource>(), &source);
  try {
    ConfigMap top(document, src, "");
    if (auto dir = top.OptionalString("state_dir")) {
      out.push_back(ResolvePath(*dir, source));
    } else if (auto systemd_dir = source.env("STATE_DIRECTORY"); systemd_dir && !systemd_dir->empty()) {
      out.push_back(systemd_dir->substr(0, systemd_dir->find(':')));
    }
  } catch (const ConfigError&) {
  }
  try {
    ConfigMap top(document, src, "");
    for (ConfigMap& log : top.MapList("logs")) {
      try {
        if (log.String("type", "file") != "file") continue;
        std::vector<std::string> paths =
            log.IsList("path") ? log.StringList("path") : std::vector<std::string>{log.String("path", "")};
        for (const std::string& p : paths) {
          if (!p.empty()) out.push_back(LogFolderOf(ResolvePath(p, source)));
        }
      } catch (const ConfigError&) {
      }
    }
  } catch (const ConfigError&) {
  }
  return out;
}

std::string ReadFile(const char* path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string Unescape(const std::string& field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() && std::isdigit(static_cast<unsigned char>(field[i + 1]))) {
      out += static_cast<char>(std::strtol(field.substr(i + 1, 3).c_str(), nullptr, 8));
      i += 3;
    } else {
      out += field[i];
    }
  }
  return out;
}

bool IsUnder(const std::string& path, const std::string& mount) {
  if (mount == "/") return !path.empty() && path[0] == '/';
  return path == mount ||
         (path.size() > mount.size() && path.compare(0, mount.size(), mount) == 0 && path[mount.size()] == '/');
}

}  // namespace

std::string MountPointOf(const std::string& resolved_path, const std::string& mountinfo) {
  std::string best = "/";
  std::istringstream lines(mountinfo);
  std::string line;
  while (std::getline(lines, line)) {
    // "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw": field 5 is the mount point.
    std::istringstream fields(line);
    std::string id, parent, dev, root, mount;
    if (!(fields >> id >> parent >> dev >> root >> mount)) continue;
    mount = Unescape(mount);
    if (IsUnder(resolved_path, mount) && mount.size() > best.size()) best = mount;
  }
  return best;
}

std::string LogFolderOf(const std::string& path) {
  size_t glob = path.find_first_of("*?[");
  std::string head = glob == std::string::npos ? path : path.substr(0, glob);
  size_t slash = head.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return head.substr(0, slash);
}

FilesystemStat StatFilesystem(const std::string& path) {
  FilesystemStat out;
  // A folder that does not exist yet (state_dir before the first start) lives
  // on the filesystem of its closest existing parent.
  std::string probe = path;
  char resolved[PATH_MAX];
  while (::realpath(probe.c_str(), resolved) == nullptr) {
    if (errno != ENOENT || probe == "/" || probe.empty()) {
      out.error = "cannot resolve " + path + ": " + std::strerror(errno);
      return out;
    }
    size_t slash = probe.find_last_of('/');
    probe = slash == std::string::npos ? "." : slash == 0 ? "/" : probe.substr(0, slash);
  }
  struct statvfs st {};
  if (::statvfs(resolved, &st) != 0) {
    out.error = "statvfs " + path + ": " + std::strerror(errno);
    return out;
  }
  out.ok = true;
  out.mountpoint = MountPointOf(resolved, ReadFile("/proc/self/mountinfo"));
  double unit = st.f_frsize ? static_cast<double>(st.f_frsize) : static_cast<double>(st.f_bsize);
  out.size_bytes = static_cast<double>(st.f_blocks) * unit;
  out.avail_bytes = static_cast<double>(st.f_bavail) * unit;
  out.files = static_cast<double>(st.f_files);
  out.files_free = static_cast<double>(st.f_ffree);
  return out;
}

std::unique_ptr<Collector> FilesystemCollector::Create(const CollectorSpec&, ConfigMap& config) {
  std::vector<std::string> paths;
  if (config.Bool("default_paths", true)) paths = DefaultPaths();
  for (const std::string& p : config.StringList("paths")) {
    if (p.empty()) config.FailAt("paths", "an empty path");
    paths.push_back(ResolvePath(p, config.source()));
  }
  std::vector<std::string> unique;
  for (const std::string& p : paths) {
    if (std::find(unique.begin(), unique.end(), p) == unique.end()) unique.push_back(p);
  }
  if (unique.empty()) {
    config.FailAt("paths", "nothing to watch: no state_dir, no file log source and no paths");
  }
  if (unique.size() > 64) config.FailAt("paths", "at most 64 paths (each is a label value)");
  return std::make_unique<FilesystemCollector>(std::move(unique));
}

FilesystemCollector::FilesystemCollector(std::vector<std::string> paths, FilesystemStatFn stat)
    : paths_(std::move(paths)), stat_(std::move(stat)) {}

ProbeResult FilesystemCollector::Collect(const ProbeContext& ctx) {
  // Start a helper for every path that has none still running.
  std::vector<std::pair<std::string, std::shared_ptr<Pending>>> waiting;
  for (const std::string& path : paths_) {
    auto it = in_flight_.find(path);
    if (it == in_flight_.end()) {
      auto pending = std::make_shared<Pending>();
      try {
        std::thread([pending, path, stat = stat_] {
          FilesystemStat result = stat(path);
          std::lock_guard<std::mutex> lock(pending->mu);
          pending->stat = std::move(result);
          pending->done = true;
          pending->done_cv.notify_all();
        }).detach();
      } catch (const std::system_error& e) {
        pending->stat.error = std::string("cannot start a thread: ") + e.what();
        pending->done = true;
      }
      it = in_flight_.emplace(path, std::move(pending)).first;
    }
    waiting.emplace_back(path, it->second);
  }

  FamilyBuilder fb;
  ProbeResult result = ProbeResult::Up();
  for (auto& [path, pending] : waiting) {
    std::unique_lock<std::mutex> lock(pending->mu);
    if (!pending->done_cv.wait_until(lock, ctx.deadline, [&job = pending] { return job->done; })) {
      // Still stuck: its helper stays in in_flight_, and the next probes wait
      // for it instead of starting another.
      if (result.up) {
        result = ProbeResult::Down(reason::kTimeout, "statvfs " + path +
                                                         " did not return before the deadline "
                                                         "(a hung network mount?)");
      }
      continue;
    }
    FilesystemStat st = pending->stat;
    lock.unlock();
    in_flight_.erase(path);
    if (!st.ok) {
      if (result.up) result = ProbeResult::Down(reason::kIo, st.error);
      continue;
    }
    FamilyBuilder::Labels labels = {{"mountpoint", st.mountpoint}, {"path", path}};
    fb.Gauge("botwatch_filesystem_size_bytes", "Size of the filesystem holding the path.", st.size_bytes, labels);
    fb.Gauge("botwatch_filesystem_avail_bytes", "Bytes of the filesystem available to unprivileged users.",
             st.avail_bytes, labels);
    fb.Gauge("botwatch_filesystem_files", "Inodes of the filesystem holding the path.", st.files, labels);
    fb.Gauge("botwatch_filesystem_files_free", "Free inodes of the filesystem holding the path.", st.files_free,
             labels);
  }
  result.families = fb.Take();
  return result;
}

}  // namespace botwatch
