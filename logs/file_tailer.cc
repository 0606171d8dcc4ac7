#include "logs/file_tailer.h"

#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "base/logging.h"
#include "logs/hyperloglog.h"

namespace botwatch {

struct FileTailer::Reader {
  Reader(std::string p, int f, size_t max_line) : path(std::move(p)), fd(f), splitter(max_line) {}
  ~Reader() {
    if (fd >= 0) ::close(fd);
  }
  std::string path;
  int fd;
  uint64_t dev = 0, ino = 0, fingerprint = 0;
  uint64_t offset = 0;  // next byte to read
  uint64_t size = 0;    // at the last read
  LineSplitter splitter;
  std::chrono::steady_clock::time_point last_data = std::chrono::steady_clock::now();

  uint64_t committed() const { return offset - splitter.pending_bytes(); }
};

uint64_t FileFingerprint(int fd) {
  char buf[1024];
  ssize_t n = ::pread(fd, buf, sizeof buf, 0);
  if (n <= 0) return 0;
  std::string_view head(buf, static_cast<size_t>(n));
  size_t nl = head.find('\n');
  if (nl != std::string_view::npos) {
    head = head.substr(0, nl + 1);
  } else if (static_cast<size_t>(n) < sizeof buf) {
    return 0;  // first line not complete yet: not stable
  }
  uint64_t h = Hash64(head);
  return h == 0 ? 1 : h;
}

namespace {

std::vector<std::string> Expand(const std::vector<std::string>& globs) {
  std::set<std::string> paths;
  for (const std::string& pattern : globs) {
    glob_t g{};
    if (::glob(pattern.c_str(), GLOB_NOSORT, nullptr, &g) == 0) {
      for (size_t i = 0; i < g.gl_pathc; ++i) paths.insert(g.gl_pathv[i]);
    }
    ::globfree(&g);
  }
  return {paths.begin(), paths.end()};
}

// Offset just past the last newline before `size`: where "start at the end"
// begins without cutting a line in half.
uint64_t LastLineStart(int fd, uint64_t size) {
  char buf[4096];
  uint64_t end = size;
  while (end > 0) {
    uint64_t start = end > sizeof buf ? end - sizeof buf : 0;
    ssize_t n = ::pread(fd, buf, end - start, static_cast<off_t>(start));
    if (n <= 0) return size;
    for (ssize_t i = n - 1; i >= 0; --i) {
      if (buf[i] == '\n') return start + static_cast<uint64_t>(i) + 1;
    }
    end = start;
  }
  return 0;
}

}  // namespace

FileTailer::FileTailer(Options options, std::vector<FilePosition> saved, bool have_state)
    : options_(std::move(options)), have_state_(have_state), known_(std::move(saved)) {
  buffer_.resize(options_.block_bytes);
}

FileTailer::~FileTailer() = default;

std::unique_ptr<FileTailer::Reader> FileTailer::Open(const std::string& path, bool first_scan) {
  // O_NONBLOCK: a path swapped for a FIFO between stat() and open() must not
  // block the polling thread until some writer opens it.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    ReportUnreadable(path, std::strerror(errno));
    return nullptr;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    ReportUnreadable(path, "not a regular file");
    return nullptr;
  }
  unreadable_.erase(path);
  auto r = std::make_unique<Reader>(path, fd, options_.max_line_bytes);
  r->dev = st.st_dev;
  r->ino = st.st_ino;
  r->fingerprint = FileFingerprint(fd);
  r->size = static_cast<uint64_t>(st.st_size);
  auto it = std::find_if(known_.begin(), known_.end(),
                         [&](const FilePosition& p) { return p.dev == r->dev && p.ino == r->ino; });
  bool resumed = false;
  if (it != known_.end()) {
    // Same inode; the same file only if its first line is unchanged and it did not shrink.
    bool same = it->fingerprint == 0 ? r->size >= it->offset : it->fingerprint == r->fingerprint;
    if (same && r->size >= it->offset) {
      r->offset = it->offset;
      resumed = true;
    }
    known_.erase(it);
  }
  if (!resumed && first_scan && options_.start_at_end && !have_state_) {
    r->offset = LastLineStart(fd, r->size);
  }
  return r;
}

void FileTailer::ReadToEnd(Reader& r, LineSink& sink) {
  while (true) {
    ssize_t n = ::pread(r.fd, buffer_.data(), buffer_.size(), static_cast<off_t>(r.offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    r.offset += static_cast<uint64_t>(n);
    r.last_data = std::chrono::steady_clock::now();
    r.splitter.Ingest(
        std::string_view(buffer_.data(), static_cast<size_t>(n)), [&](std::string_view line) { sink.Line(line); },
        [&] { sink.TooLong(); });
  }
  struct stat st {};
  if (::fstat(r.fd, &st) == 0) r.size = static_cast<uint64_t>(st.st_size);
  if (r.fingerprint == 0) r.fingerprint = FileFingerprint(r.fd);
}

// copytruncate and plain truncation: the file shrank below what we read, or
// its first line changed under us (truncated and refilled between two polls).
void FileTailer::CheckReplaced(Reader& r, LineSink& sink) {
  struct stat st {};
  if (::fstat(r.fd, &st) != 0) return;
  uint64_t size = static_cast<uint64_t>(st.st_size);
  bool shrank = size < r.offset;
  bool rewritten = false;
  if (!shrank && r.fingerprint != 0) {
    uint64_t now = FileFingerprint(r.fd);
    rewritten = now != r.fingerprint;
  }
  if (!shrank && !rewritten) return;
  // The unterminated tail of the old content will never be completed.
  r.splitter.Flush([&](std::string_view line) { sink.Line(line); });
  r.offset = 0;
  r.fingerprint = FileFingerprint(r.fd);
  ++rotations_;
  logging::Info("log file truncated; reading it from the start", {{"path", r.path}});
}

void FileTailer::Close(Reader& r, LineSink& sink) {
  ReadToEnd(r, sink);
  // A rotated-away file never gets its last newline: its partial line is complete.
  r.splitter.Flush([&](std::string_view line) { sink.Line(line); });
  known_.push_back(FilePosition{r.dev, r.ino, r.fingerprint, r.offset, r.path});
}

void FileTailer::Poll(LineSink& sink) {
  const bool first_scan = !first_scan_done_;
  first_scan_done_ = true;
  std::vector<std::string> paths = Expand(options_.globs);

  // 1. Files we follow: moved away, deleted, replaced or truncated?
  for (size_t i = 0; i < active_.size();) {
    Reader& r = *active_[i];
    struct stat st {};
    bool gone = ::stat(r.path.c_str(), &st) != 0;
    bool moved = !gone && (static_cast<uint64_t>(st.st_dev) != r.dev || static_cast<uint64_t>(st.st_ino) != r.ino);
    if (gone || moved) {
      ReadToEnd(r, sink);
      ++rotations_;
      logging::Info("log file rotated", {{"path", r.path}, {"how", gone ? "deleted or renamed" : "replaced"}});
      draining_.push_back(std::move(active_[i]));
      active_.erase(active_.begin() + static_cast<long>(i));
      continue;
    }
    CheckReplaced(r, sink);
    ReadToEnd(r, sink);
    ++i;
  }

  // 2. Paths we do not follow yet (new files, and the new file after a rotation).
  auto followed = [&](uint64_t dev, uint64_t ino) {
    for (const auto* list : {&active_, &draining_}) {
      for (const auto& r : *list) {
        if (r->dev == dev && r->ino == ino) return true;
      }
    }
    return false;
  };
  std::set<std::pair<uint64_t, uint64_t>> seen;
  for (const std::string& path : paths) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) continue;
    if (!S_ISREG(st.st_mode)) {
      if (!S_ISDIR(st.st_mode)) ReportUnreadable(path, "not a regular file");
      continue;
    }
    seen.emplace(st.st_dev, st.st_ino);
    if (followed(st.st_dev, st.st_ino)) continue;
    std::unique_ptr<Reader> r = Open(path, first_scan);
    if (!r) continue;
    ReadToEnd(*r, sink);
    active_.push_back(std::move(r));
  }

  for (auto it = unreadable_.begin(); it != unreadable_.end();) {
    it = std::find(paths.begin(), paths.end(), it->first) == paths.end() ? unreadable_.erase(it) : std::next(it);
  }

  // 3. Rotated-away files: read what is still being appended, then let go.
  auto now = std::chrono::steady_clock::now();
  for (size_t i = 0; i < draining_.size();) {
    Reader& r = *draining_[i];
    ReadToEnd(r, sink);
    if (now - r.last_data >= options_.rotate_wait) {
      Close(r, sink);
      draining_.erase(draining_.begin() + static_cast<long>(i));
      continue;
    }
    ++i;
  }

  // Forget files that no glob matches any more (a position is kept while a
  // rotated copy still matches, so it is never read twice).
  known_.erase(std::remove_if(known_.begin(), known_.end(),
                              [&](const FilePosition& p) {
                                return !seen.count({p.dev, p.ino});
                              }),
               known_.end());
}

void FileTailer::ReportUnreadable(const std::string& path, const std::string& why) {
  auto [it, fresh] = unreadable_.emplace(path, why);
  if (!fresh && it->second == why) return;
  it->second = why;
  logging::Warn("log file cannot be followed; skipping it", {{"path", path}, {"err", why}});
}

void FileTailer::FlushPartialLines(LineSink& sink) {
  for (auto& r : active_) r->splitter.Flush([&](std::string_view line) { sink.Line(line); });
  for (auto& r : draining_) r->splitter.Flush([&](std::string_view line) { sink.Line(line); });
}

std::vector<FilePosition> FileTailer::Positions() const {
  std::vector<FilePosition> out = known_;
  for (const auto* list : {&active_, &draining_}) {
    for (const auto& r : *list) out.push_back(FilePosition{r->dev, r->ino, r->fingerprint, r->committed(), r->path});
  }
  return out;
}

size_t FileTailer::files_watched() const { return active_.size(); }

uint64_t FileTailer::lag_bytes() const {
  uint64_t lag = 0;
  for (const auto& r : active_) lag += r->size > r->offset ? r->size - r->offset : 0;
  return lag;
}

uint64_t FileTailer::TakeRotations() {
  uint64_t r = rotations_;
  rotations_ = 0;
  return r;
}

}  // namespace botwatch
