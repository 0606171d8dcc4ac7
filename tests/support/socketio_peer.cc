#include "tests/support/socketio_peer.h"

#include <signal.h>
#include <unistd.h>

#include <regex>

#include "tests/support/node_peer.h"

namespace botwatch::testing {

std::string InstallSocketIoPeer(std::string* error) {
  return InstallNodePeer("socketio", {"package.json", "package-lock.json", ".npmrc", "server.js"}, "socket.io", error);
}

SocketIoPeer::SocketIoPeer(const std::string& peer_dir, const std::string& work_dir, int port,
                           const std::vector<std::string>& extra_env) {
  static int counter = 0;
  std::string log = work_dir + "/socketio-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".log";
  // exec: the child's pid is node's own, so Kill() reaches the server itself.
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{"/bin/sh", "-c", "exec node '" + peer_dir + "/server.js' " + std::to_string(port)}, log,
      extra_env);
}

bool SocketIoPeer::WaitListening(std::chrono::milliseconds timeout) {
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

void SocketIoPeer::Kill() {
  process_->Signal(SIGKILL);
  process_->WaitExit(std::chrono::seconds(5));
}

}  // namespace botwatch::testing
