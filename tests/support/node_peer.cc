#include "tests/support/node_peer.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/botwatch_process.h"

namespace botwatch::testing {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Holds an exclusive flock for its lifetime.
class FileLock {
 public:
  explicit FileLock(const std::string& path) : fd_(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644)) {
    if (fd_ >= 0) ::flock(fd_, LOCK_EX);
  }
  ~FileLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the lock
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_;
};

}  // namespace

std::string InstallNodePeer(const std::string& name, const std::vector<std::string>& files, const std::string& module,
                            std::string* error) {
  fs::path src = fs::path(BOTWATCH_SOURCE_DIR) / "tests/peers" / name;
  fs::path dst = fs::path(BOTWATCH_BINARY).parent_path() / "peers" / name;
  std::error_code ec;
  fs::create_directories(dst, ec);
  FileLock lock((dst / ".install.lock").string());
  std::string stamp;
  for (const std::string& f : files) stamp += ReadFile(src / f);
  if (ReadFile(dst / ".installed") == stamp && fs::exists(dst / "node_modules" / module / "package.json")) {
    return dst.string();
  }
  for (const std::string& f : files) {
    fs::copy_file(src / f, dst / f, fs::copy_options::overwrite_existing, ec);
    if (ec) {
      *error = "cannot copy " + f + ": " + ec.message();
      return "";
    }
  }
  CommandResult r = RunCommand({"sh", "-c", "cd '" + dst.string() + "' && npm ci --no-audit --no-fund"}, "",
                               std::chrono::seconds(180));
  if (r.exit_code != 0) {
    *error = "npm ci failed (" + std::to_string(r.exit_code) + "): " + r.output;
    return "";
  }
  std::ofstream(dst / ".installed", std::ios::binary) << stamp;
  return dst.string();
}

}  // namespace botwatch::testing
