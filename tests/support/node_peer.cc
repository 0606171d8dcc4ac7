#include "tests/support/node_peer.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <regex>

#include "tests/support/botwatch_process.h"
#include "tests/support/temp_dir.h"

namespace botwatch::testing {
namespace {

namespace fs = std::filesystem;

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
  for (const std::string& f : files) stamp += ReadWholeFile((src / f).string());
  if (ReadWholeFile((dst / ".installed").string()) == stamp &&
      fs::exists(dst / "node_modules" / module / "package.json")) {
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

std::string RequirePeerDir(std::string (*install)(std::string* error)) {
  std::string error;
  std::string dir = install(&error);
  INFO(error);
  REQUIRE(!dir.empty());
  return dir;
}

NodeServer::NodeServer(const std::string& name, const std::string& peer_dir, const std::string& work_dir, int port,
                       const std::vector<std::string>& extra_env) {
  static int counter = 0;
  std::string log = work_dir + "/" + name + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".log";
  // exec: the child's pid is node's own, so a signal to it reaches the server itself.
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{"/bin/sh", "-c", "exec node '" + peer_dir + "/server.js' " + std::to_string(port)}, log,
      extra_env);
}

bool NodeServer::WaitListening(std::chrono::milliseconds timeout) {
  static const std::regex kListening("listening ([0-9]+)");
  return Eventually(
      [&] {
        std::smatch m;
        std::string text = process_->Log();
        if (!std::regex_search(text, m, kListening)) return false;
        port_ = std::stoi(m[1]);
        return true;
      },
      timeout);
}

}  // namespace botwatch::testing
