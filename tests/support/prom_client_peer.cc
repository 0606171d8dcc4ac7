#include "tests/support/prom_client_peer.h"

#include <unistd.h>

#include <regex>

#include "tests/support/node_peer.h"

namespace botwatch::testing {

std::string InstallPromClientPeer(std::string* error) {
  return InstallNodePeer("prom-client", {"package.json", "package-lock.json", ".npmrc", "server.js"}, "prom-client",
                         error);
}

PromClientPeer::PromClientPeer(const std::string& peer_dir, const std::string& work_dir,
                               const std::vector<std::string>& extra_env) {
  static int counter = 0;
  std::string log = work_dir + "/prom-client-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".log";
  // exec: the child's pid is node's own, so the destructor's signal reaches the server.
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{"/bin/sh", "-c", "exec node '" + peer_dir + "/server.js' 0"}, log, extra_env);
}

bool PromClientPeer::WaitListening(std::chrono::milliseconds timeout) {
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
