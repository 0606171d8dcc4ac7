#include "base/state_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "base/logging.h"

namespace botwatch {
namespace {

std::mutex errors_mu;
std::map<std::string, uint64_t>& Errors() {
  static auto* errors = new std::map<std::string, uint64_t>();  // never destroyed: used at exit too
  return *errors;
}

std::string Errno(const std::string& what, const std::string& path) {
  int e = errno;
  if (e == ELOOP) return what + " " + path + ": is a symbolic link; state files are never followed through links";
  return what + " " + path + ": " + std::strerror(e);
}

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

bool WriteAll(int fd, std::string_view data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

void SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

std::string Octal(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// Temp files of writes a crash interrupted ("<name>.tmp.XXXXXX").
void RemoveStaleTemps(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    size_t at = name.rfind(".tmp.");
    if (at == std::string::npos || name.size() != at + 5 + 6) continue;
    ::unlinkat(::dirfd(d), name.c_str(), 0);
  }
  ::closedir(d);
}

}  // namespace

Status PrepareStateDir(const std::string& dir) {
  std::error_code ec;
  std::string parent = DirName(dir);
  if (!parent.empty() && parent != "/" && parent != ".") std::filesystem::create_directories(parent, ec);
  if (::mkdir(dir.c_str(), 0700) == 0) {
    ::chmod(dir.c_str(), 0700);  // whatever the umask
  } else if (errno != EEXIST) {
    return Status::Error("state_dir " + dir + ": cannot create it: " + std::strerror(errno));
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return Status::Error("state_dir " + dir + ": " + std::strerror(errno));
  if (!S_ISDIR(st.st_mode)) return Status::Error("state_dir " + dir + " is not a directory");
  if (st.st_uid != ::geteuid()) {
    return Status::Error("state_dir " + dir + " is owned by uid " + std::to_string(st.st_uid) +
                         ", not by botwatch's user (uid " + std::to_string(::geteuid()) +
                         "): another user could replace its files; chown it or choose another state_dir");
  }
  if (st.st_mode & (S_IWGRP | S_IWOTH)) {
    return Status::Error("state_dir " + dir + " is group- or world-writable (mode " + Octal(st.st_mode) +
                         "): others could replace its files; chmod 700 it");
  }
  RemoveStaleTemps(dir);
  return Status::Ok();
}

Status ReadStateFile(const std::string& path, std::string* data, bool* exists) {
  data->clear();
  *exists = false;
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) return Status::Ok();
    return Status::Error(Errno("cannot read", path));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::Error("cannot read " + path + ": not a regular file");
  }
  *exists = true;
  char buf[64 * 1024];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status err = Status::Error(Errno("cannot read", path));
      ::close(fd);
      return err;
    }
    if (n == 0) break;
    data->append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return Status::Ok();
}

Status WriteStateFileAtomically(const std::string& path, std::string_view data) {
  std::string tmp = path + ".tmp.XXXXXX";
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);  // O_EXCL, mode 0600
  if (fd < 0) return Status::Error(Errno("cannot create a temp file for", path));
  bool ok = WriteAll(fd, data) && ::fsync(fd) == 0;
  std::string err = ok ? "" : Errno("cannot write", path);
  ::close(fd);
  if (ok && ::rename(tmp.c_str(), path.c_str()) != 0) {
    ok = false;
    err = Errno("cannot rename into", path);
  }
  if (!ok) {
    ::unlink(tmp.c_str());
    return Status::Error(err);
  }
  SyncDir(DirName(path));  // the rename itself must survive a crash too
  return Status::Ok();
}

Status AppendStateFile(const std::string& path, std::string_view data, uint64_t size_before) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return Status::Error(Errno("cannot open", path));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::Error("cannot append to " + path + ": not a regular file");
  }
  if (st.st_mode & 077) ::fchmod(fd, 0600);  // left wider by an older botwatch
  if (static_cast<uint64_t>(st.st_size) != size_before) {
    // Changed outside botwatch (or an earlier cut-back failed): appending
    // would follow bytes botwatch did not write. The caller rewrites it whole.
    ::close(fd);
    return Status::Error(path + " holds " + std::to_string(st.st_size) + " bytes where botwatch wrote " +
                         std::to_string(size_before) + ": changed outside botwatch; rewriting it");
  }
  if (!WriteAll(fd, data)) {
    Status err = Status::Error(Errno("cannot write", path));
    // A torn record must not stay for later appends to follow.
    (void)::ftruncate(fd, static_cast<off_t>(size_before));
    ::close(fd);
    return err;
  }
  ::close(fd);
  return Status::Ok();
}

Status TruncateStateFile(const std::string& path, uint64_t size) {
  int fd = ::open(path.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return Status::Error(Errno("cannot open", path));
  bool ok = ::ftruncate(fd, static_cast<off_t>(size)) == 0;
  Status st = ok ? Status::Ok() : Status::Error(Errno("cannot truncate", path));
  ::close(fd);
  return st;
}

Status RemoveStateFile(const std::string& path) {
  if (::unlink(path.c_str()) == 0 || errno == ENOENT) return Status::Ok();
  return Status::Error(Errno("cannot remove", path));
}

bool StateWriteHealth::Record(const Status& st) {
  if (st.ok()) {
    if (!error_.empty()) logging::Info("state file written again", {{"file", file_}});
    error_.clear();
    return true;
  }
  {
    std::lock_guard<std::mutex> lock(errors_mu);
    ++Errors()[file_];
  }
  if (error_.empty()) logging::Error("cannot write state file", {{"file", file_}, {"err", st.message()}});
  error_ = st.message();
  return false;
}

std::map<std::string, uint64_t> StateWriteErrors() {
  std::lock_guard<std::mutex> lock(errors_mu);
  return Errors();
}

}  // namespace botwatch
