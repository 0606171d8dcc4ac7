#pragma once

// A Node.js peer of tests/peers/NAME (a package.json, its committed lockfile
// and scripts) installed once per build directory: copied to
// <build>/peers/NAME and `npm ci --no-audit --no-fund` run there, serialised
// by a file lock so parallel CTest processes share one install, and skipped
// while the copied files are unchanged.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/botwatch_process.h"

namespace botwatch::testing {

// The installed directory; empty (with *error set) if the install failed.
// `files` are copied from tests/peers/`name`; `module` is a package whose
// presence in node_modules shows a finished install.
std::string InstallNodePeer(const std::string& name, const std::vector<std::string>& files, const std::string& module,
                            std::string* error);

// `install`'s directory (one of the Install*Peer functions); a failed install
// fails the running test, naming why.
std::string RequirePeerDir(std::string (*install)(std::string* error));

// `node <peer_dir>/server.js PORT` (0 = any free port), its log in `work_dir`;
// the server prints "listening PORT" once it accepts connections.
class NodeServer {
 public:
  NodeServer(const std::string& name, const std::string& peer_dir, const std::string& work_dir, int port,
             const std::vector<std::string>& extra_env);
  bool WaitListening(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  int port() const { return port_; }

 protected:
  std::unique_ptr<ChildProcess> process_;
  int port_ = 0;
};

}  // namespace botwatch::testing
