#include "collectors/textfile.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unordered_map>

#include "base/config_node.h"
#include "collectors/registry.h"
#include "prom/carried_metrics.h"

namespace botwatch {

BOTWATCH_REGISTER_COLLECTOR("textfile", TextfileCollector::Create);

namespace {

bool IsPromFile(const std::string& name) {
  // Producers write ".name.prom.tmp" or "name.prom.$$" and rename: only the
  // finished name ends in .prom, and hidden files are never read.
  return name.size() > 5 && name[0] != '.' && name.compare(name.size() - 5, 5, ".prom") == 0;
}

// One read of an open descriptor: the file as it was when opened, even if the
// producer renames a new one over it meanwhile.
TextFile ReadTextFile(const std::string& dir, const std::string& name, size_t max_bytes) {
  TextFile f;
  f.name = name;
  int fd = ::open((dir + "/" + name).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    f.read_error = std::string("cannot open: ") + std::strerror(errno);
    return f;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    f.read_error = "not a regular file";
  } else if (static_cast<size_t>(st.st_size) > max_bytes) {
    f.read_error = "larger than max_file_bytes (" + std::to_string(max_bytes) + ")";
  } else {
    f.mtime_unix = static_cast<double>(st.st_mtim.tv_sec) + static_cast<double>(st.st_mtim.tv_nsec) / 1e9;
    f.content.resize(static_cast<size_t>(st.st_size));
    size_t got = 0;
    while (got < f.content.size()) {
      ssize_t n = ::read(fd, f.content.data() + got, f.content.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    f.content.resize(got);
  }
  ::close(fd);
  return f;
}

}  // namespace

std::unique_ptr<Collector> TextfileCollector::Create(const CollectorSpec&, ConfigMap& config) {
  std::string directory = config.RequiredString("directory");
  if (directory.empty()) config.FailAt("directory", "must not be empty");
  if (directory.front() != '/' && !config.source().dir.empty()) directory = config.source().dir + "/" + directory;
  auto max = static_cast<size_t>(config.Int("max_file_bytes", 1 << 20, 1, 64 << 20));
  return std::make_unique<TextfileCollector>(std::move(directory), max);
}

TextfileCollector::TextfileCollector(std::string directory, size_t max_file_bytes)
    : directory_(std::move(directory)), max_file_bytes_(max_file_bytes) {}

ProbeResult TextfileCollector::Collect(const ProbeContext&) {
  // Local reads of small files: bounded by max_file_bytes, not by the deadline.
  std::vector<TextFile> files;
  std::string directory_error;
  DIR* d = ::opendir(directory_.c_str());
  if (d == nullptr) {
    directory_error = "cannot read directory " + directory_ + ": " + std::strerror(errno);
  } else {
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) {
      if (IsPromFile(e->d_name)) names.emplace_back(e->d_name);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());  // a stable order for the output
    for (const auto& n : names) files.push_back(ReadTextFile(directory_, n, max_file_bytes_));
  }
  return Evaluate(files, directory_error);
}

ProbeResult TextfileCollector::Evaluate(const std::vector<TextFile>& files, const std::string& directory_error) const {
  FamilyBuilder fb;
  if (!directory_error.empty()) {
    ProbeResult r = ProbeResult::Down(reason::kIo, directory_error);
    return r;
  }
  std::vector<Family> carried;
  std::unordered_map<std::string, size_t> by_name;
  std::string first_problem;
  size_t bad = 0;
  for (const TextFile& f : files) {
    const FamilyBuilder::Labels file = {{"file", f.name}};
    std::string problem = f.read_error;
    std::vector<Family> families;
    if (problem.empty()) {
      auto parsed = CarryTextFormat(f.content, {"botwatch_textfile_"}, "Metric read from textfile " + f.name + ".");
      if (parsed.ok()) {
        families = std::move(parsed.value());
      } else {
        problem = parsed.status().message();
      }
    }
    // A family that another file already defines must agree on its type and
    // help; otherwise this file cannot be merged and counts as bad.
    for (const auto& fam : families) {
      auto it = by_name.find(fam.name);
      if (it != by_name.end() && (carried[it->second].type != fam.type || carried[it->second].help != fam.help)) {
        problem = "family " + fam.name + " has another type or HELP in an earlier file";
        break;
      }
    }
    if (problem.empty()) {
      for (auto& fam : families) {
        auto it = by_name.find(fam.name);
        if (it == by_name.end()) {
          by_name.emplace(fam.name, carried.size());
          carried.push_back(std::move(fam));
        } else {
          auto& into = carried[it->second].metric;
          into.insert(into.end(), fam.metric.begin(), fam.metric.end());
        }
      }
    } else {
      ++bad;
      if (first_problem.empty()) first_problem = f.name + ": " + problem;
    }
    if (f.read_error.empty()) {
      fb.Gauge("botwatch_textfile_mtime_seconds", "Modification time of the textfile, seconds since the epoch.",
               f.mtime_unix, file);
    }
    fb.Gauge("botwatch_textfile_error", "Whether the textfile could not be read or parsed (1) and was left out.",
             problem.empty() ? 0 : 1, file);
  }
  fb.Gauge("botwatch_textfile_files", "Textfiles (*.prom) found in the directory.", static_cast<double>(files.size()));
  ProbeResult r =
      bad == 0 ? ProbeResult::Up()
               : ProbeResult::Down(reason::kInvalidOutput, std::to_string(bad) + " of " + std::to_string(files.size()) +
                                                               " files left out; first: " + first_problem);
  r.families = fb.Take();
  for (auto& fam : carried) r.families.push_back(std::move(fam));
  return r;
}

}  // namespace botwatch
