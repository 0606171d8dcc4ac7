#include "collectors/lib/procfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace botwatch {
namespace {

template <typename T>
bool ParseNumber(std::string_view s, T* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

std::vector<std::string_view> SplitSpaces(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\n')) ++i;
    size_t start = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\n') ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

}  // namespace

Result<std::string> ReadSmallFile(const std::string& path, size_t limit) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::Error(path + ": " + std::strerror(errno));
  std::string out;
  char buf[4096];
  while (out.size() < limit) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return Status::Error(path + ": " + std::strerror(err));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

Result<ProcStat> ParseProcStat(std::string_view text) {
  size_t open = text.find('(');
  size_t close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    return Status::Error("malformed stat: no (comm)");
  }
  ProcStat st;
  if (!ParseNumber(text.substr(0, open > 0 ? open - 1 : 0), &st.pid)) {
    return Status::Error("malformed stat: bad pid");
  }
  st.comm = std::string(text.substr(open + 1, close - open - 1));
  std::vector<std::string_view> f = SplitSpaces(text.substr(close + 1));
  // f[0] is field 3 (state); field N of proc(5) is f[N - 3].
  if (f.size() < 22) return Status::Error("malformed stat: too few fields");
  st.state = f[0].empty() ? '?' : f[0][0];
  bool ok = ParseNumber(f[14 - 3], &st.utime_ticks) && ParseNumber(f[15 - 3], &st.stime_ticks) &&
            ParseNumber(f[20 - 3], &st.num_threads) && ParseNumber(f[22 - 3], &st.starttime_ticks) &&
            ParseNumber(f[23 - 3], &st.vsize_bytes) && ParseNumber(f[24 - 3], &st.rss_pages);
  if (!ok) return Status::Error("malformed stat: bad number");
  return st;
}

Result<double> ParseBootTime(std::string_view proc_stat) {
  size_t pos = 0;
  while (pos < proc_stat.size()) {
    size_t end = proc_stat.find('\n', pos);
    if (end == std::string_view::npos) end = proc_stat.size();
    std::string_view line = proc_stat.substr(pos, end - pos);
    if (line.substr(0, 6) == "btime ") {
      uint64_t v = 0;
      if (ParseNumber(line.substr(6), &v)) return static_cast<double>(v);
      return Status::Error("malformed btime line");
    }
    pos = end + 1;
  }
  return Status::Error("no btime line");
}

Result<std::optional<uint64_t>> ParseMaxOpenFiles(std::string_view limits) {
  size_t pos = limits.find("Max open files");
  if (pos == std::string_view::npos) return Status::Error("no \"Max open files\" line");
  size_t end = limits.find('\n', pos);
  std::vector<std::string_view> f =
      SplitSpaces(limits.substr(pos + 14, end == std::string_view::npos ? std::string_view::npos : end - pos - 14));
  if (f.empty()) return Status::Error("malformed \"Max open files\" line");
  if (f[0] == "unlimited") return std::optional<uint64_t>();
  uint64_t v = 0;
  if (!ParseNumber(f[0], &v)) return Status::Error("malformed \"Max open files\" value");
  return std::optional<uint64_t>(v);
}

std::optional<std::string> ParseCgroupV2Path(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    std::string_view line = text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    if (line.substr(0, 3) == "0::") return std::string(line.substr(3));
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  return std::nullopt;
}

Result<std::optional<uint64_t>> ParseMemoryMax(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  if (text == "max") return std::optional<uint64_t>();
  uint64_t v = 0;
  if (!ParseNumber(text, &v)) return Status::Error("malformed memory.max");
  return std::optional<uint64_t>(v);
}

ProcFs::ProcFs(std::string root, std::string cgroup_root)
    : root_(std::move(root)),
      cgroup_root_(std::move(cgroup_root)),
      ticks_per_second_(::sysconf(_SC_CLK_TCK)),
      page_size_(::sysconf(_SC_PAGESIZE)) {}

std::optional<uint64_t> ProcFs::MemoryLimit(int pid) const {
  Result<std::string> cgroup = Read(std::to_string(pid) + "/cgroup");
  if (!cgroup.ok()) return std::nullopt;
  std::optional<std::string> path = ParseCgroupV2Path(cgroup.value());
  if (!path || path->empty() || path->front() != '/' || path->find("..") != std::string::npos) return std::nullopt;
  // A parent's limit binds the children too (a container's slice around the
  // bot's own cgroup), so the tightest one on the way up counts.
  std::optional<uint64_t> limit;
  std::string dir = *path;
  while (true) {
    if (Result<std::string> max = ReadSmallFile(cgroup_root_ + (dir == "/" ? "" : dir) + "/memory.max", 64); max.ok()) {
      Result<std::optional<uint64_t>> v = ParseMemoryMax(max.value());
      if (v.ok() && v.value() && (!limit || *v.value() < *limit)) limit = v.value();
    }
    if (dir == "/") break;
    size_t slash = dir.rfind('/');
    dir = slash == 0 ? "/" : dir.substr(0, slash);
  }
  return limit;
}

Result<std::string> ProcFs::Read(const std::string& relative) const { return ReadSmallFile(root_ + "/" + relative); }

Result<ProcStat> ProcFs::Stat(int pid) const {
  Result<std::string> text = Read(std::to_string(pid) + "/stat");
  if (!text.ok()) return text.status();
  return ParseProcStat(text.value());
}

Result<ProcessSample> ProcFs::Sample(int pid) const {
  Result<ProcStat> st = Stat(pid);
  if (!st.ok()) return st.status();
  Result<std::string> stat_all = Read("stat");
  if (!stat_all.ok()) return stat_all.status();
  Result<double> boot = ParseBootTime(stat_all.value());
  if (!boot.ok()) return boot.status();

  ProcessSample s;
  s.pid = pid;
  s.comm = st->comm;
  s.cpu_seconds = static_cast<double>(st->utime_ticks + st->stime_ticks) / ticks_per_second_;
  s.resident_bytes = static_cast<double>(st->rss_pages) * page_size_;
  s.virtual_bytes = static_cast<double>(st->vsize_bytes);
  s.threads = static_cast<double>(st->num_threads);
  s.starttime_ticks = st->starttime_ticks;
  s.state = st->state;
  s.start_time_unix = boot.value() + static_cast<double>(st->starttime_ticks) / ticks_per_second_;

  std::string fd_dir = root_ + "/" + std::to_string(pid) + "/fd";
  if (DIR* d = ::opendir(fd_dir.c_str())) {
    int count = 0;
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.') ++count;
    }
    ::closedir(d);
    s.open_fds = count;
  }
  if (Result<std::string> limits = Read(std::to_string(pid) + "/limits"); limits.ok()) {
    Result<std::optional<uint64_t>> max = ParseMaxOpenFiles(limits.value());
    if (max.ok() && max.value()) s.max_fds = static_cast<double>(*max.value());
  }
  if (std::optional<uint64_t> limit = MemoryLimit(pid)) s.memory_limit_bytes = static_cast<double>(*limit);
  return s;
}

std::vector<int> ProcFs::Pids() const {
  std::vector<int> pids;
  DIR* d = ::opendir(root_.c_str());
  if (d == nullptr) return pids;
  while (dirent* e = ::readdir(d)) {
    int pid = 0;
    if (ParseNumber(std::string_view(e->d_name), &pid) && pid > 0) pids.push_back(pid);
  }
  ::closedir(d);
  return pids;
}

Result<std::string> ProcFs::Cmdline(int pid) const {
  Result<std::string> raw = Read(std::to_string(pid) + "/cmdline");
  if (!raw.ok()) return raw.status();
  std::string s = std::move(raw.value());
  while (!s.empty() && s.back() == '\0') s.pop_back();
  for (char& c : s) {
    if (c == '\0') c = ' ';
  }
  return s;
}

}  // namespace botwatch
